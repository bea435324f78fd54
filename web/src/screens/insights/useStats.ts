import { useEffect, useState } from 'preact/hooks'
import type { Bucket, Stats } from '../../lib/api'
import { useSession } from '../../lib/context'
import { problemMessage } from '../../lib/problems'
import { timeZone, toInstant } from '../../lib/time'

export type Loaded<T> = { state: 'loading' } | { state: 'ready'; value: T } | { state: 'failed'; message: string }

/** `/stats` for a window of local time, always in the browser's own IANA zone. */
export function useStats(bucket: Bucket, from: Date | null, to: Date | null): Loaded<Stats> {
  const { api } = useSession()
  const [result, setResult] = useState<Loaded<Stats>>({ state: 'loading' })
  const fromKey = from ? toInstant(from) : undefined
  const toKey = to ? toInstant(to) : undefined
  useEffect(() => {
    let current = true
    setResult({ state: 'loading' })
    const query = { bucket, tz: timeZone, ...(fromKey ? { from: fromKey } : {}), ...(toKey ? { to: toKey } : {}) }
    api
      .GET('/stats', { params: { query } })
      .then(({ data, error }) => {
        if (!current) return
        setResult(data ? { state: 'ready', value: data } : { state: 'failed', message: problemMessage(error) })
      })
      .catch(() => current && setResult({ state: 'failed', message: 'moodlog cannot be reached. Check your connection and try again.' }))
    return () => {
      current = false
    }
  }, [api, bucket, fromKey, toKey])
  return result
}
