import { createHash, randomBytes } from 'node:crypto'
import type { Store } from '../store/types.js'

export interface CacheStats {
  hits: number
  misses: number
}

/**
 * Read-through cache of per-user results (list pages, counts, statistics).
 *
 * Invalidation is by generation: every cache key embeds the user's current generation, a random
 * token that each write replaces. A write on any instance therefore makes every instance's next
 * read miss, and stale entries simply age out. A missing generation (evicted, expired, new user)
 * gets a fresh random one, so an old generation can never come back into use.
 *
 * Erasure (`forget`) runs after the account's deletion has committed, and a read that was already
 * past its query may store its page after that. So every miss, once its keys are written, asks the
 * database whether the user still exists, and removes them itself if not: a read whose check comes
 * before the deletion's commit wrote them before `forget` began, which removes them; a later check
 * sees the user gone. Either way no key of a deleted account is left behind (issue #15).
 */
export class UserCache {
  readonly stats: CacheStats = { hits: 0, misses: 0 }
  /** Users whose generation could not be replaced (store down); retried before their next read. */
  private readonly pendingInvalidations = new Set<number>()
  /** Loads under way in this process, by cache key (which names the generation: a write starts new ones). */
  private readonly loading = new Map<string, Promise<string>>()
  /** Generations being created in this process, by user. */
  private readonly startingGenerations = new Map<number, Promise<string>>()

  constructor(
    private readonly store: Store,
    private readonly options: {
      enabled: boolean
      ttlMs: number
      /** Whether the account still exists, asked of the database after a miss has written its keys. */
      userExists: (userId: number) => Promise<boolean>
    },
  ) {}

  get enabled(): boolean {
    return this.options.enabled
  }

  private generationKey(userId: number): string {
    return `gen:${userId}`
  }

  /** Every cached page of the user, whatever its generation. */
  private pagesPrefix(userId: number): string {
    return `cache:${userId}:`
  }

  /** Generations outlive any entry made under them. */
  private get generationTtlMs(): number {
    return this.options.ttlMs * 10
  }

  private async generation(userId: number): Promise<string> {
    if (this.pendingInvalidations.has(userId)) {
      await this.invalidate(userId)
      if (this.pendingInvalidations.has(userId)) throw new Error('cache store unavailable')
    }
    const current = await this.store.get(this.generationKey(userId))
    if (current) return current
    // Requests that find none at the same moment share one: each its own would scatter their pages
    // over generations that only the last writer's survives, so the page would be loaded again and again.
    const starting = this.startingGenerations.get(userId)
    if (starting) return starting
    const fresh = randomBytes(8).toString('base64url')
    const started = this.store
      .set(this.generationKey(userId), fresh, this.generationTtlMs)
      .then(() => fresh)
      .finally(() => this.startingGenerations.delete(userId))
    this.startingGenerations.set(userId, started)
    return started
  }

  /** The cached value for (user, kind, params), or `compute()`'s result, stored for next time. */
  async remember<T>(userId: number, kind: string, params: unknown, compute: () => Promise<T>): Promise<T> {
    if (!this.options.enabled) return compute()
    let fresh: T | undefined
    const text = await this.rememberText(userId, kind, params, async () => {
      fresh = await compute()
      return JSON.stringify(fresh)
    })
    return fresh ?? (JSON.parse(text) as T)
  }

  /**
   * `remember` for values that are text already, such as a serialised response body: a hit is
   * returned as stored, with no parsing.
   */
  async rememberText(userId: number, kind: string, params: unknown, compute: () => Promise<string>): Promise<string> {
    if (!this.options.enabled) return compute()
    let key: string
    try {
      const digest = createHash('sha256').update(JSON.stringify(params)).digest('base64url').slice(0, 22)
      key = `${this.pagesPrefix(userId)}${await this.generation(userId)}:${kind}:${digest}`
      const cached = await this.store.get(key)
      if (cached !== undefined) {
        this.stats.hits += 1
        return cached
      }
    } catch {
      // Store down: serve from the database (the store logs the outage once).
      this.stats.misses += 1
      return compute()
    }
    this.stats.misses += 1
    // Concurrent misses of one key wait for the first one's load: a page that many requests ask for
    // at once (a popular user after a write, every client after a restart) is read once, not once each.
    const running = this.loading.get(key)
    if (running) return running
    const loading = this.load(userId, key, compute).finally(() => this.loading.delete(key))
    this.loading.set(key, loading)
    return loading
  }

  private async load(userId: number, key: string, compute: () => Promise<string>): Promise<string> {
    const value = await compute()
    await this.store.set(key, value, this.options.ttlMs).catch(() => {})
    await this.unlessErased(userId, key)
    return value
  }

  /** After a miss stored `key` (and maybe a new generation): removes both if the account was deleted meanwhile. */
  private async unlessErased(userId: number, key: string): Promise<void> {
    // Unknown (database unreachable) counts as gone: a page not kept costs one more miss.
    if (await this.options.userExists(userId).catch(() => false)) return
    await this.store.delete(key, this.generationKey(userId)).catch(() => {})
  }

  /** Call after every committed write of the user's data, before answering. */
  async invalidate(userId: number): Promise<void> {
    if (!this.options.enabled) return
    try {
      await this.store.setEventually(this.generationKey(userId), randomBytes(8).toString('base64url'), this.generationTtlMs)
      this.pendingInvalidations.delete(userId)
    } catch {
      this.pendingInvalidations.add(userId)
      return
    }
    // In process, superseded pages go at once (an index lookup), so their memory is free for pages
    // that can still be read. Redis lets them age out: a scan on every write would cost more.
    if (this.store.kind === 'memory') await this.store.deletePrefix(this.pagesPrefix(userId))
  }

  /** Erasure: removes every key the cache holds about the user (whether or not the cache is on). */
  async forget(userId: number): Promise<void> {
    this.pendingInvalidations.delete(userId)
    await Promise.all([this.store.deletePrefix(this.pagesPrefix(userId)), this.store.delete(this.generationKey(userId))])
  }
}
