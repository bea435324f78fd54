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
  client.on('error', (error) => outage.failed(error))
  client.on('ready', () => outage.recovered())

  const ready = await Promise.race([
    new Promise<boolean>((resolve) => client.once('ready', () => resolve(true))),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000).unref()),
  ])
  if (!ready) outage.failed(new Error(`no connection to ${new URL(url).host} within 3 s`))

  const tracked = async <T>(operation: () => Promise<T>): Promise<T> => {
    try {
      const result = await operation()
      outage.recovered()
      return result
    } catch (error) {
      outage.failed(error)
      throw error
    }
  }

  return {
    kind: 'redis',
    client,
    outage,
    get: (key) => tracked(async () => (await client.get(key)) ?? undefined),
    set: (key, value, ttlMs) => tracked(async () => void (await client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs))))),
    delete: (...keys) => tracked(async () => void (keys.length > 0 && (await client.del(...keys)))),
    deletePrefix: (keyPrefix) => tracked(() => deleteKeysStartingWith(client, keyPrefix)),
    ping: () => tracked(async () => void (await client.ping())),
    async close() {
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    },
  }
}
