import type { Store } from './types.js'

/**
 * Uses `primary` while it answers and `fallback` while it does not. For state that must never be
 * fully open (the login throttle): when Redis is down, limits hold per instance instead of shared.
 */
export function failoverStore(primary: Store, fallback: Store): Store {
  const either =
    <A extends unknown[], R>(method: (store: Store, ...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await method(primary, ...args)
      } catch {
        return method(fallback, ...args)
      }
    }
  return {
    kind: primary.kind,
    get: either((s, key: string) => s.get(key)),
    set: either((s, key: string, value: string, ttlMs: number) => s.set(key, value, ttlMs)),
    delete: either((s, ...keys: string[]) => s.delete(...keys)),
    increment: either((s, key: string, windowMs: number) => s.increment(key, windowMs)),
    ping: () => primary.ping(),
    async close() {
      await Promise.all([primary.close(), fallback.close()])
    },
  }
}
