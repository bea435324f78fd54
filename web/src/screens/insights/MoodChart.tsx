import type { Bucket, Stats } from '../../lib/api'
import { averageLabel, moodClass } from '../../lib/mood'
import { formatDayKey, startOfDay } from '../../lib/time'

const W = 640
const H = 240
const PAD = { left: 34, right: 12, top: 12, bottom: 28 }

const BUCKET_LABEL: Record<Bucket, string> = { day: 'day', week: 'week', month: 'month' }

export function bucketName(bucket: Bucket, start: string): string {
  if (bucket === 'month') return formatDayKey(start, { month: 'long', year: 'numeric' })
  if (bucket === 'week') return `Week of ${formatDayKey(start, { day: 'numeric', month: 'short', year: 'numeric' })}`
  return formatDayKey(start, { weekday: 'short', day: 'numeric', month: 'short' })
}

/** A sentence that says what the chart shows, for its `<desc>` and for anyone who cannot see it. */
function describe(stats: Stats): string {
  const { buckets, bucket } = stats
  if (buckets.length === 0) return 'No entries in this period yet.'
  const best = buckets.reduce((a, b) => (b.average > a.average ? b : a))
  const worst = buckets.reduce((a, b) => (b.average < a.average ? b : a))
  const first = buckets[0]!
  const last = buckets[buckets.length - 1]!
  const parts = [
    `${buckets.length} ${BUCKET_LABEL[bucket]}${buckets.length === 1 ? '' : 's'} with entries.`,
    `Average mood ${averageLabel(stats.overall.average ?? 0)}.`,
  ]
  if (buckets.length > 1) {
    parts.push(
      `From ${averageLabel(first.average)} (${bucketName(bucket, first.start)}) to ${averageLabel(last.average)} (${bucketName(bucket, last.start)}).`,
    )
    parts.push(
      `Best: ${bucketName(bucket, best.start)}, ${averageLabel(best.average)}. Lowest: ${bucketName(bucket, worst.start)}, ${averageLabel(worst.average)}.`,
    )
  }
  return parts.join(' ')
}

interface MoodChartProps {
  stats: Stats
  from: Date
  to: Date
}

/** Average mood per bucket as a line over the window, drawn as SVG with a title, a description and a table beside it. */
export function MoodChart({ stats, from, to }: MoodChartProps) {
  const span = Math.max(1, to.getTime() - from.getTime())
  const x = (start: string) => PAD.left + ((startOfDay(start).getTime() - from.getTime()) / span) * (W - PAD.left - PAD.right)
  const y = (mood: number) => PAD.top + ((10 - mood) / 9) * (H - PAD.top - PAD.bottom)
  const points = stats.buckets.map((b) => ({ ...b, cx: x(b.start), cy: y(b.average) }))
  const description = describe(stats)
  const ticks = [1, 4, 7, 10]
  const labels = [from, new Date((from.getTime() + to.getTime()) / 2), new Date(to.getTime() - 1)]

  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="mood-chart-title mood-chart-desc" class="chart-svg">
        <title id="mood-chart-title">Mood over time</title>
        <desc id="mood-chart-desc">{description}</desc>
        {ticks.map((tick) => (
          <g key={tick} class="chart-grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(tick)} y2={y(tick)} />
            <text x={PAD.left - 8} y={y(tick) + 4} text-anchor="end">
              {tick}
            </text>
          </g>
        ))}
        {labels.map((date, i) => (
          <text
            key={i}
            class="chart-axis"
            x={PAD.left + (i / 2) * (W - PAD.left - PAD.right)}
            y={H - 8}
            text-anchor={i === 0 ? 'start' : i === 2 ? 'end' : 'middle'}
          >
            {date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}
          </text>
        ))}
        {points.length > 1 && <polyline class="chart-line" points={points.map((p) => `${p.cx},${p.cy}`).join(' ')} />}
        {points.map((p) => (
          <circle key={p.start} class={`chart-point ${moodClass(p.average)}`} cx={p.cx} cy={p.cy} r={points.length > 60 ? 3 : 5}>
            <title>
              {bucketName(stats.bucket, p.start)}: {averageLabel(p.average)}, {p.count} {p.count === 1 ? 'entry' : 'entries'}
            </title>
          </circle>
        ))}
      </svg>
      <details class="chart-table">
        <summary>Show as a table</summary>
        <table>
          <caption class="visually-hidden">Mood per {BUCKET_LABEL[stats.bucket]}</caption>
          <thead>
            <tr>
              <th scope="col">{stats.bucket === 'day' ? 'Day' : stats.bucket === 'week' ? 'Week' : 'Month'}</th>
              <th scope="col">Average</th>
              <th scope="col">Lowest</th>
              <th scope="col">Highest</th>
              <th scope="col">Entries</th>
            </tr>
          </thead>
          <tbody>
            {stats.buckets.map((b) => (
              <tr key={b.start}>
                <th scope="row">{bucketName(stats.bucket, b.start)}</th>
                <td>{averageLabel(b.average)}</td>
                <td>{b.min}</td>
                <td>{b.max}</td>
                <td>{b.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  )
}
