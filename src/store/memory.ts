import { LRUCache } from 'lru-cache'
import type { Store } from './types.js'

interface Entry {
  value: string
  expiresAt: number
}

/** The single-instance store: bounded (least recently used entries go first), every entry with a TTL. */
export function createMemoryStore(maxEntries = 100_000): Store {
  const entries = new LRUCache<string, Entry>({ max: maxEntries })

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key)
    if (entry && entry.expiresAt <= Date.now()) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  return {
    kind: 'memory',
    async get(key) {
      return live(key)?.value
    },
    async set(key, value, ttlMs) {
      const ttl = Math.max(1, Math.round(ttlMs))
      entries.set(key, { value, expiresAt: Date.now() + ttl }, { ttl })
    },
    async delete(...keys) {
      for (const key of keys) entries.delete(key)
    },
    async increment(key, windowMs) {
      const now = Date.now()
      const current = live(key)
      const expiresAt = current?.expiresAt ?? now + windowMs
      const count = (Number(current?.value) || 0) + 1
      entries.set(key, { value: String(count), expiresAt }, { ttl: Math.max(1, expiresAt - now) })
      return { count, resetMs: expiresAt - now }
    },
    async ping() {},
    async close() {
      entries.clear()
    },
  }
}
