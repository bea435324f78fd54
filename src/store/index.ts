import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { createMemoryStore } from './memory.js'
import { openRedisStore } from './redis.js'
import type { Store } from './types.js'

export type { Store } from './types.js'

export interface Stores {
  /** Cache entries and session states: Redis when configured (callers treat failures as misses). */
  shared: Store
  /** The Redis client for @fastify/rate-limit and the sign-in throttle, when Redis is configured. */
  redis?: import('ioredis').Redis
  close(): Promise<void>
}

export async function openStores(config: Config, log: FastifyBaseLogger): Promise<Stores> {
  if (config.redisUrl === undefined) {
    const memory = createMemoryStore({ maxPageBytes: config.cacheMemoryMb * 1024 * 1024 })
    return { shared: memory, close: () => memory.close() }
  }
  const redis = await openRedisStore(config.redisUrl, config.redisKeyPrefix, log)
  return { shared: redis, redis: redis.client, close: () => redis.close() }
}
