import { useEffect, useState } from 'preact/hooks'
import { MoodBadge } from '../../components/MoodBadge'
import type { Entry, Stats } from '../../lib/api'
import { useSession } from '../../lib/context'
import { addDays, formatTime, toInstant } from '../../lib/time'

/**
 * Entries written on today's date in earlier years. The monthly statistics tell which years have
 * entries in this month at all, so only those years are asked for.
 */
export function OnThisDay({ months }: { months: Stats }) {
  const { api } = useSession()
  const [found, setFound] = useState<Array<{ year: number; entries: Entry[] }> | null>(null)
  const now = new Date()
  const month = String(now.getMonth() + 1).padStart(2, '0')
  const years = months.buckets
    .filter((b) => b.start.slice(5, 7) === month && Number(b.start.slice(0, 4)) < now.getFullYear())
    .map((b) => Number(b.start.slice(0, 4)))
    .reverse()

  useEffect(() => {
    let current = true
    Promise.all(
      years.map(async (year) => {
        const day = new Date(year, now.getMonth(), now.getDate())
        if (day.getMonth() !== now.getMonth()) return { year, entries: [] }
        const { data } = await api.GET('/entries', {
          params: { query: { limit: 20, from: toInstant(day), to: toInstant(addDays(day, 1)) } },
        })
        return { year, entries: data?.items ?? [] }
      }),
    )
      .then((all) => current && setFound(all.filter((y) => y.entries.length > 0)))
      .catch(() => current && setFound([]))
    return () => {
      current = false
    }
  }, [api, years.join(',')])

  const date = now.toLocaleDateString(undefined, { day: 'numeric', month: 'long' })
  return (
    <section class="card" aria-labelledby="on-this-day-title">
      <h2 id="on-this-day-title">On this day</h2>
      {found === null ? (
        <p class="muted">Looking back…</p>
      ) : found.length === 0 ? (
        <p class="muted">Nothing from {date} in earlier years yet. Keep writing: next year, today’s entry will be waiting here.</p>
      ) : (
        found.map(({ year, entries }) => (
          <section key={year} class="otd-year" aria-labelledby={`otd-${year}`}>
            <h3 id={`otd-${year}`}>
              {date} {year}
            </h3>
            <ul class="otd-list">
              {entries.map((entry) => (
                <li key={entry.id}>
                  <div class="entry-head">
                    <span class="muted">{formatTime(entry.occurredAt)}</span>
                    <MoodBadge mood={entry.mood} />
                    <span class="chip">{entry.category}</span>
                  </div>
                  <p class="entry-text">{entry.text}</p>
                </li>
              ))}
            </ul>
          </section>
        ))
      )}
    </section>
  )
}
