import type { Stats } from '../../lib/api'
import { averageLabel, moodClass } from '../../lib/mood'
import { localDayKey } from '../../lib/time'

const MONTHS = Array.from({ length: 12 }, (_, m) => new Date(2000, m, 1))
const monthShort = new Intl.DateTimeFormat(undefined, { month: 'short' })
const monthLong = new Intl.DateTimeFormat(undefined, { month: 'long' })

/**
 * A year in pixels: one cell per day, coloured by that day's average mood. It is a real table
 * (days down, months across), so the chart and its text alternative are the same thing: every
 * coloured cell also says its average in words.
 */
export function YearPixels({ stats, year }: { stats: Stats; year: number }) {
  const byDay = new Map(stats.buckets.map((b) => [b.start, b]))
  const today = localDayKey(new Date())
  const days = stats.buckets.length
  return (
    <div class="pixels-wrap">
      <table class="pixels">
        <caption>
          {days === 0
            ? `No entries in ${year} yet.`
            : `${days} day${days === 1 ? '' : 's'} with entries in ${year}, average ${averageLabel(stats.overall.average ?? 0)}.`}
        </caption>
        <thead>
          <tr>
            <td />
            {MONTHS.map((month) => (
              <th scope="col" key={month.getMonth()}>
                <span aria-hidden="true">{monthShort.format(month).slice(0, 1)}</span>
                <span class="visually-hidden">{monthLong.format(month)}</span>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: 31 }, (_, d) => (
            <tr key={d}>
              <th scope="row">{d + 1}</th>
              {MONTHS.map((month) => {
                const date = new Date(year, month.getMonth(), d + 1)
                if (date.getMonth() !== month.getMonth()) return <td key={month.getMonth()} class="px px-none" />
                const key = localDayKey(date)
                const day = byDay.get(key)
                const isToday = key === today
                const label = `${isToday ? 'Today, ' : ''}${d + 1} ${monthLong.format(month)}: ${day ? `${averageLabel(day.average)}, ${day.count} ${day.count === 1 ? 'entry' : 'entries'}` : 'no entry'}`
                return (
                  <td
                    key={month.getMonth()}
                    class={`px ${day ? moodClass(day.average) : 'px-empty'}${isToday ? ' px-today' : ''}`}
                    title={label}
                    aria-current={isToday ? 'date' : undefined}
                  >
                    {(day || isToday) && <span class="visually-hidden">{label}</span>}
                  </td>
                )
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
