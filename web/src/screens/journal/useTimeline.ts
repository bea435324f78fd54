import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import type { Entry } from '../../lib/api'
import { useSession } from '../../lib/context'
import { fieldErrors, problemMessage } from '../../lib/problems'
import { toQuery, type Filters } from './filters'

export interface Timeline {
  entries: Entry[]
  total: number
  nextCursor: string | null
  loading: boolean
  loaded: boolean
  error: string | undefined
  loadMore: () => void
  reload: () => void
  replace: (entry: Entry) => void
  remove: (id: number) => void
}

const newestFirst = (a: Entry, b: Entry) => Date.parse(b.occurredAt) - Date.parse(a.occurredAt) || b.id - a.id

/** Entries matching the filters, newest first, a cursor page at a time; a stale answer never overwrites a newer one. */
export function useTimeline(filters: Filters): Timeline {
  const { api } = useSession()
  const [entries, setEntries] = useState<Entry[]>([])
  const [total, setTotal] = useState(0)
  const [nextCursor, setNextCursor] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const [loaded, setLoaded] = useState(false)
  const [error, setError] = useState<string>()
  const generation = useRef(0)
  const inFlight = useRef(false)

  const fetchPage = useCallback(
    async (cursor: string | undefined) => {
      const mine = cursor ? generation.current : ++generation.current
      inFlight.current = true
      setLoading(true)
      setError(undefined)
      try {
        const { data, error: problem } = await api.GET('/entries', { params: { query: toQuery(filters, cursor) } })
        if (mine !== generation.current) return
        if (data) {
          setEntries((previous) => (cursor ? [...previous, ...data.items.filter((e) => !previous.some((p) => p.id === e.id))] : data.items))
          setTotal(data.total)
          setNextCursor(data.nextCursor)
          setLoaded(true)
        } else {
          const byField = Object.values(fieldErrors(problem))
          setError(byField.length > 0 ? `These filters cannot be used: ${byField.join(' ')}` : problemMessage(problem))
        }
      } catch {
        if (mine === generation.current) setError('moodlog cannot be reached. Check your connection and try again.')
      } finally {
        if (mine === generation.current) {
          inFlight.current = false
          setLoading(false)
        }
      }
    },
    [api, filters],
  )

  useEffect(() => {
    void fetchPage(undefined)
  }, [fetchPage])

  return {
    entries,
    total,
    nextCursor,
    loading,
    loaded,
    error,
    loadMore: () => {
      if (nextCursor && !inFlight.current) void fetchPage(nextCursor)
    },
    reload: () => void fetchPage(undefined),
    replace: (entry) => setEntries((previous) => previous.map((e) => (e.id === entry.id ? entry : e)).sort(newestFirst)),
    remove: (id) => {
      setEntries((previous) => previous.filter((e) => e.id !== id))
      setTotal((n) => Math.max(0, n - 1))
    },
  }
}
