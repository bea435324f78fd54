import { useMemo, useState } from 'preact/hooks'
import type { Bucket, Stats } from '../../lib/api'
import { averageLabel, moodClass } from '../../lib/mood'
import { addDays, timeZone } from '../../lib/time'
import { MoodChart } from './MoodChart'
import { OnThisDay } from './OnThisDay'
import { useStats, type Loaded } from './useStats'
import { YearPixels } from './YearPixels'

const RANGES: Record<Bucket, { label: string; span: string; start: (today: Date) => Date }> = {
  day: { label: 'Days', span: 'the last 30 days', start: (t) => addDays(t, -29) },
  week: { label: 'Weeks', span: 'the last 26 weeks', start: (t) => addDays(t, -7 * 26 + 1) },
  month: { label: 'Months', span: 'the last 12 months', start: (t) => new Date(t.getFullYear(), t.getMonth() - 11, 1) },
}

function Pending({ loaded }: { loaded: Loaded<unknown> }) {
  if (loaded.state === 'failed')
    return (
      <p class="form-error" role="alert">
        {loaded.message}
      </p>
    )
  return <p class="muted">Loading…</p>
}

function Streaks({ stats }: { stats: Stats }) {
  const days = (n: number) => `${n} ${n === 1 ? 'day' : 'days'}`
  return (
    <section class="card streaks" aria-labelledby="streaks-title">
      <h2 id="streaks-title">Streaks</h2>
      <dl class="stat-list">
        <div>
          <dt>Current streak</dt>
          <dd>{days(stats.streaks.current)}</dd>
        </div>
        <div>
          <dt>Longest streak</dt>
          <dd>{days(stats.streaks.longest)}</dd>
        </div>
      </dl>
      <p class="muted">{stats.streaks.current > 0 ? 'Days in a row with at least one entry.' : 'Write today to start a new streak.'}</p>
    </section>
  )
}

function Categories({ stats, span }: { stats: Stats; span: string }) {
  return (
    <section class="card" aria-labelledby="categories-title">
      <h2 id="categories-title">Average mood per category</h2>
      {stats.categories.length === 0 ? (
        <p class="muted">No entries in {span}.</p>
      ) : (
        <ul class="category-bars">
          {stats.categories.map((c) => (
            <li key={c.category}>
              <span class="category-name">{c.category}</span>
              <svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
                <rect class="bar-track" x="0" y="0" width="100" height="10" rx="5" />
                <rect class={`bar-fill ${moodClass(c.average)}`} x="0" y="0" width={c.average * 10} height="10" rx="5" />
              </svg>
              <span class="category-value">
                {averageLabel(c.average)} <span class="muted">· {c.count === 1 ? '1 entry' : `${c.count} entries`}</span>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

export function InsightsScreen() {
  const [bucket, setBucket] = useState<Bucket>('day')
  const [year, setYear] = useState(() => new Date().getFullYear())
  // The windows are fixed for the visit: today's local midnight anchors them all.
  const today = useMemo(() => {
    const now = new Date()
    return new Date(now.getFullYear(), now.getMonth(), now.getDate())
  }, [])
  const from = useMemo(() => RANGES[bucket].start(today), [bucket, today])
  const to = useMemo(() => addDays(today, 1), [today])
  const yearFrom = useMemo(() => new Date(year, 0, 1), [year])
  const yearTo = useMemo(() => new Date(year + 1, 0, 1), [year])

  const chart = useStats(bucket, from, to)
  const pixels = useStats('day', yearFrom, yearTo)
  const months = useStats('month', null, null)

  return (
    <div class="insights">
      <div class="page-head">
        <h1>Insights</h1>
        <p class="muted">Your days as they felt, in your time zone ({timeZone}).</p>
      </div>

      <section class="card chart-card" aria-labelledby="chart-title">
        <div class="card-head">
          <h2 id="chart-title">Mood over {RANGES[bucket].span}</h2>
          <fieldset class="segmented">
            <legend class="visually-hidden">Group by</legend>
            {(Object.keys(RANGES) as Bucket[]).map((b) => (
              <label key={b}>
                <input type="radio" name="bucket" value={b} checked={bucket === b} onChange={() => setBucket(b)} />
                <span>{RANGES[b].label}</span>
              </label>
            ))}
          </fieldset>
        </div>
        {chart.state === 'ready' ? <MoodChart stats={chart.value} from={from} to={to} /> : <Pending loaded={chart} />}
      </section>

      <div class="insights-grid">
        {chart.state === 'ready' ? <Streaks stats={chart.value} /> : <Pending loaded={chart} />}
        {chart.state === 'ready' ? <Categories stats={chart.value} span={RANGES[bucket].span} /> : null}
      </div>

      <section class="card" aria-labelledby="pixels-title">
        <div class="card-head">
          <h2 id="pixels-title">Year in pixels</h2>
          <div class="year-nav">
            <button type="button" class="button button-small" onClick={() => setYear(year - 1)}>
              <span aria-hidden="true">←</span> {year - 1}
            </button>
            <span class="year-label" aria-live="polite">
              {year}
            </span>
            <button type="button" class="button button-small" onClick={() => setYear(year + 1)} disabled={year >= today.getFullYear()}>
              {year + 1} <span aria-hidden="true">→</span>
            </button>
          </div>
        </div>
        {pixels.state === 'ready' ? <YearPixels stats={pixels.value} year={year} /> : <Pending loaded={pixels} />}
        <p class="legend" aria-hidden="true">
          <span>1</span>
          {Array.from({ length: 10 }, (_, i) => (
            <span key={i} class={`legend-swatch mood-${i + 1}`} />
          ))}
          <span>10</span>
        </p>
      </section>

      {months.state === 'ready' ? <OnThisDay months={months.value} /> : <Pending loaded={months} />}
    </div>
  )
}
