import { useEffect, useRef } from 'preact/hooks'
import type { Entry } from '../../lib/api'
import { dayHeading, localDayKey } from '../../lib/time'
import { EntryCard } from './EntryCard'
import type { Timeline as TimelineState } from './useTimeline'

interface TimelineProps {
  timeline: TimelineState
  filtered: boolean
  onClearFilters: () => void
  onEdit: (entry: Entry) => void
  onDelete: (entry: Entry) => void
}

function groupByDay(entries: Entry[]): Array<{ key: string; entries: Entry[] }> {
  const groups: Array<{ key: string; entries: Entry[] }> = []
  for (const entry of entries) {
    const key = localDayKey(new Date(entry.occurredAt))
    const last = groups[groups.length - 1]
    if (last?.key === key) last.entries.push(entry)
    else groups.push({ key, entries: [entry] })
  }
  return groups
}

export function Timeline({ timeline, filtered, onClearFilters, onEdit, onDelete }: TimelineProps) {
  const sentinel = useRef<HTMLDivElement>(null)
  const { entries, nextCursor, loading, loaded, error, total } = timeline
  const loadMore = useRef(timeline.loadMore)
  loadMore.current = timeline.loadMore

  // Infinite scroll: the next page is fetched as the end of the list comes near; the button stays as the fallback.
  useEffect(() => {
    const target = sentinel.current
    if (!target || !nextCursor || typeof IntersectionObserver === 'undefined') return
    const observer = new IntersectionObserver((seen) => seen.some((s) => s.isIntersecting) && loadMore.current(), {
      rootMargin: '400px 0px',
    })
    observer.observe(target)
    return () => observer.disconnect()
  }, [nextCursor])

  const now = new Date()
  return (
    <section class="timeline" aria-labelledby="timeline-title" aria-busy={loading || undefined}>
      <div class="timeline-head">
        <h2 id="timeline-title">{filtered ? 'Matching entries' : 'Your entries'}</h2>
        {loaded && (
          <p class="muted" role="status">
            {total === 1 ? '1 entry' : `${total} entries`}
          </p>
        )}
      </div>
      {error && (
        <div class="notice notice-error" role="alert">
          <p>{error}</p>
          <button type="button" class="button" onClick={timeline.reload}>
            Try again
          </button>
        </div>
      )}
      {loaded && entries.length === 0 && !error && (
        <div class="empty">
          {filtered ? (
            <>
              <p class="empty-title">No entries match.</p>
              <p>Try fewer words, another category or a wider range of dates.</p>
              <button type="button" class="button" onClick={onClearFilters}>
                Clear filters
              </button>
            </>
          ) : (
            <>
              <p class="empty-title">Your journal is empty.</p>
              <p>Pick a mood above, write a line about your day and press “Save entry”. It will show up here.</p>
            </>
          )}
        </div>
      )}
      {groupByDay(entries).map((group) => (
        <section class="day" key={group.key} aria-labelledby={`day-${group.key}`}>
          <h3 class="day-heading" id={`day-${group.key}`}>
            <time dateTime={group.key}>{dayHeading(group.key, now)}</time>
          </h3>
          <ol class="entries">
            {group.entries.map((entry) => (
              <li key={entry.id}>
                <EntryCard entry={entry} onEdit={onEdit} onDelete={onDelete} />
              </li>
            ))}
          </ol>
        </section>
      ))}
      {!loaded && loading && <p class="muted">Loading your entries…</p>}
      {nextCursor && (
        <div class="load-more" ref={sentinel}>
          <button type="button" class="button" onClick={timeline.loadMore} aria-busy={loading || undefined}>
            Load more
          </button>
        </div>
      )}
      {loaded && !nextCursor && entries.length > 0 && <p class="muted end-note">That is everything{filtered ? ' that matches' : ''}.</p>}
    </section>
  )
}
