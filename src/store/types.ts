/**
 * Shared short-lived state: cache entries, cache generations and session states.
 * In-process by default; Redis when `REDIS_URL` is set, so every instance sees the same values.
 */
export interface Store {
  readonly kind: 'memory' | 'redis'
  get(key: string): Promise<string | undefined>
  set(key: string, value: string, ttlMs: number): Promise<void>
  /**
   * `set` for a write another instance must see even if the store is down now (a cache
   * invalidation, a revocation): one the store cannot take is kept, the latest per key, and
   * written as soon as the store answers again, unless its TTL has run out by then. It still
   * rejects, so the caller knows the value is not there yet.
   */
  setEventually(key: string, value: string, ttlMs: number): Promise<void>
  delete(...keys: string[]): Promise<void>
  /** Deletes every key that starts with `prefix` (a scan on Redis: for rare events such as erasure). */
  deletePrefix(prefix: string): Promise<void>
  /** In process only: the estimated bytes cached pages hold, never above `CACHE_MEMORY_MB`. */
  pageBytes?(): number
  ping(): Promise<void>
  close(): Promise<void>
}
