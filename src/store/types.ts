/**
 * Shared short-lived state: cache entries, counters and session revocations.
 * In-process by default; Redis when `REDIS_URL` is set, so every instance sees the same values.
 */
export interface Store {
  readonly kind: 'memory' | 'redis'
  get(key: string): Promise<string | undefined>
  set(key: string, value: string, ttlMs: number): Promise<void>
  delete(...keys: string[]): Promise<void>
  /**
   * Atomically adds one to a fixed-window counter that expires `windowMs` after its first hit;
   * returns the new count and the milliseconds until the window resets.
   */
  increment(key: string, windowMs: number): Promise<{ count: number; resetMs: number }>
  ping(): Promise<void>
  close(): Promise<void>
}
