import { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { Store } from './types.js'

/** Fixed-window counter in one atomic round trip: INCR, and start the window on the first hit. */
const INCREMENT_LUA = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}`

type ClientWithIncrement = Redis & { moodlogIncrement(key: string, windowMs: number): Promise<[number, number]> }

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
  }) as ClientWithIncrement
  client.defineCommand('moodlogIncrement', { numberOfKeys: 1, lua: INCREMENT_LUA })
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
    increment: (key, windowMs) =>
      tracked(async () => {
        const [count, resetMs] = await client.moodlogIncrement(key, Math.round(windowMs))
        return { count, resetMs }
      }),
    ping: () => tracked(async () => void (await client.ping())),
    async close() {
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    },
  }
}
