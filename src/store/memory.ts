import { LRUCache } from 'lru-cache'
import type { Store } from './types.js'

export interface MemoryStoreOptions {
  /** Upper bound of the bytes cached pages (`cache:` keys) may hold; least recently used go first. */
  maxPageBytes: number
  /** Upper bound of the other entries (cache generations, session states), which are small. */
  maxStateEntries?: number
  /** The clock TTLs are measured on, in milliseconds (tests pass one they control). */
  now?: () => number
}

/** Cached pages are the only large values; everything else is a generation or a session state. */
const PAGE_PREFIX = 'cache:'
/** What one entry costs beside its text: the LRU's node, the timer slot, the index entry. */
const ENTRY_OVERHEAD_BYTES = 200

/**
 * The single-instance store: two least-recently-used maps, every entry with a TTL.
 *
 * Cached pages are bounded by bytes, so memory levels off however many users and queries there
 * are; session states and cache generations live apart, so a burst of large pages can never evict
 * a revocation (which would send the next request to the database, not let a revoked token in) or
 * a generation. Strings are counted as two bytes a character, the most V8 spends on one.
 */
export function createMemoryStore(options: MemoryStoreOptions): Store & { pageBytes(): number } {
  /** `cache:<user>` → that user's page keys, so a user's pages can be dropped without a scan. */
  const pagesByUser = new Map<string, Set<string>>()
  const userOf = (key: string) => key.slice(0, key.indexOf(':', PAGE_PREFIX.length))

  // A given clock is read on every check (no 1 ms reuse of the last reading).
  const clock = options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}
  const pages = new LRUCache<string, string>({
    ...clock,
    maxSize: options.maxPageBytes,
    sizeCalculation: (value, key) => (key.length + value.length) * 2 + ENTRY_OVERHEAD_BYTES,
    ttlAutopurge: false,
    dispose: (_value, key, reason) => {
      if (reason === 'set') return // replaced by a new value under the same key: still indexed
      const user = userOf(key)
      const keys = pagesByUser.get(user)
      keys?.delete(key)
      if (keys?.size === 0) pagesByUser.delete(user)
    },
  })
  const state = new LRUCache<string, string>({ ...clock, max: options.maxStateEntries ?? 100_000 })
  const mapFor = (key: string) => (key.startsWith(PAGE_PREFIX) ? pages : state)

  return {
    kind: 'memory',
    async get(key) {
      return mapFor(key).get(key)
    },
    async set(key, value, ttlMs) {
      const ttl = Math.max(1, Math.round(ttlMs))
      if (!key.startsWith(PAGE_PREFIX)) {
        state.set(key, value, { ttl })
        return
      }
      pages.set(key, value, { ttl })
      if (!pages.has(key)) return // larger than the whole budget: not kept
      const user = userOf(key)
      let keys = pagesByUser.get(user)
      if (!keys) pagesByUser.set(user, (keys = new Set()))
      keys.add(key)
    },
    // In process, every write is taken at once.
    setEventually(key, value, ttlMs) {
      return this.set(key, value, ttlMs)
    },
    async delete(...keys) {
      for (const key of keys) mapFor(key).delete(key)
    },
    async deletePrefix(prefix) {
      const user = prefix.startsWith(PAGE_PREFIX) && prefix.endsWith(':') ? prefix.slice(0, -1) : undefined
      if (user !== undefined && userOf(prefix) === user) {
        for (const key of [...(pagesByUser.get(user) ?? [])]) pages.delete(key)
        return
      }
      for (const map of [pages, state]) {
        for (const key of [...map.keys()]) if (key.startsWith(prefix)) map.delete(key)
      }
    },
    pageBytes: () => pages.calculatedSize,
    async ping() {},
    async close() {
      pages.clear()
      state.clear()
    },
  }
}
