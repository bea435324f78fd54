import { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { Store } from './types.js'

/** A glob that matches `text` literally (SCAN MATCH treats `*?[]\\` as pattern syntax). */
const literalGlob = (text: string) => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)

/**
 * Deletes every key that starts with `prefix`, by SCAN (which never blocks Redis the way KEYS
 * does). SCAN sees whole key names, with the client's own prefix, which UNLINK adds by itself.
 */
export async function deleteKeysStartingWith(client: Redis, prefix: string): Promise<void> {
  const own = client.options.keyPrefix ?? ''
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${literalGlob(own + prefix)}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await client.unlink(...keys.map((key) => key.slice(own.length)))
  } while (cursor !== '0')
}

/** Logs one warning when Redis goes away and one line when it is back, however many calls fail in between. */
export class OutageLog {
  down = false
  constructor(
    private readonly log: FastifyBaseLogger,
    private readonly what: string,
  ) {}

  failed(error: unknown): void {
    if (this.down) return
    this.down = true
    this.log.warn({ err: error }, `${this.what} unavailable; degrading until it is back`)
  }

  recovered(): void {
    if (!this.down) return
    this.down = false
    this.log.info(`${this.what} reachable again`)
  }
}

export interface RedisStore extends Store {
  readonly client: Redis
  readonly outage: OutageLog
  /** Resolves once every write kept by `setEventually` has reached Redis (or expired). */
  settled(): Promise<void>
}

interface KeptWrite {
  value: string
  /** `Date.now()` when its TTL runs out: a write kept through an outage keeps its deadline. */
  expiresAt: number
}

/**
 * The writes `setEventually` could not make, the latest per key, written again as soon as Redis
 * answers (on reconnection, or after any command that succeeds). Redis is the only channel to the
 * other instances: an invalidation lost in an outage would let them serve what it invalidated,
 * once Redis is back, for as long as their TTL.
 */
class KeptWrites {
  private readonly writes = new Map<string, KeptWrite>()
  private readonly waiters: Array<() => void> = []
  private writing = false

  constructor(private readonly client: Redis) {}

  keep(key: string, value: string, ttlMs: number): void {
    this.writes.set(key, { value, expiresAt: Date.now() + ttlMs })
  }

  /** A later write of the key reached Redis: it supersedes the kept one. */
  superseded(key: string): void {
    if (this.writes.delete(key)) this.notify()
  }

  /** Writes what is kept, in the order it was kept; stops at the first failure (Redis is down again). */
  async writeAll(): Promise<void> {
    if (this.writing || this.writes.size === 0) return
    this.writing = true
    try {
      for (const [key, write] of [...this.writes]) {
        if (this.writes.get(key) !== write) continue // replaced or superseded meanwhile
        const ttlMs = write.expiresAt - Date.now()
        if (ttlMs >= 1) await this.client.set(key, write.value, 'PX', Math.round(ttlMs))
        if (this.writes.get(key) === write) this.writes.delete(key)
      }
    } catch {
      // Down again: the next reconnection (or successful command) writes the rest.
    } finally {
      this.writing = false
      this.notify()
    }
  }

  settled(): Promise<void> {
    return this.writes.size === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve))
  }

  private notify(): void {
    if (this.writes.size === 0) for (const resolve of this.waiters.splice(0)) resolve()
  }
}

/**
 * Redis-backed store. Timeouts are short and commands are never queued while disconnected, so a
 * dead Redis costs a request milliseconds, not seconds; the client keeps reconnecting by itself.
 */
export async function openRedisStore(url: string, prefix: string, log: FastifyBaseLogger): Promise<RedisStore> {
  const client = new Redis(url, {
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    keyPrefix: prefix,
  })
  const outage = new OutageLog(log, 'redis')
  const kept = new KeptWrites(client)
  client.on('error', (error) => outage.failed(error))
  client.on('ready', () => {
    outage.recovered()
    void kept.writeAll()
  })

  const ready = await Promise.race([
    new Promise<boolean>((resolve) => client.once('ready', () => resolve(true))),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000).unref()),
  ])
  if (!ready) outage.failed(new Error(`no connection to ${new URL(url).host} within 3 s`))

  const tracked = async <T>(operation: () => Promise<T>): Promise<T> => {
    try {
      const result = await operation()
      outage.recovered()
      // Redis may answer again without a reconnection (it was only slow, or paused).
      void kept.writeAll()
      return result
    } catch (error) {
      outage.failed(error)
      throw error
    }
  }

  const set = (key: string, value: string, ttlMs: number) =>
    tracked(async () => {
      await client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)))
      kept.superseded(key)
    })

  return {
    kind: 'redis',
    client,
    outage,
    get: (key) => tracked(async () => (await client.get(key)) ?? undefined),
    set,
    setEventually: (key, value, ttlMs) =>
      set(key, value, ttlMs).catch((error: unknown) => {
        kept.keep(key, value, ttlMs)
        throw error
      }),
    settled: () => kept.settled(),
    delete: (...keys) =>
      tracked(async () => {
        if (keys.length > 0) await client.del(...keys)
        for (const key of keys) kept.superseded(key)
      }),
    deletePrefix: (keyPrefix) => tracked(() => deleteKeysStartingWith(client, keyPrefix)),
    ping: () => tracked(async () => void (await client.ping())),
    async close() {
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    },
  }
}
