import type { FastifyReply } from 'fastify'
import { routeSerializer, sendSerialized } from '../http/serialized.js'
import type { UserCache } from './user-cache.js'

/** One cached read of a user's data. */
export interface CachedRead<T> {
  userId: number
  /** Names the read in the cache key, e.g. `stats:body`. */
  kind: string
  /** Everything the answer depends on besides the user, validated already (so only good answers are stored). */
  params: unknown
  /** The value, from the domain service; called on a miss (always, with the cache off). */
  load: () => Promise<T>
}

/**
 * The one way a read route answers from the per-user cache. A hit is sent as the body stored the
 * first time, with no parsing and no serialising again; a miss loads the value, serialises it with
 * the route's own response serializer (its schema decides what leaves), stores that text and sends
 * it. Headers already set on the reply (by the route or its hooks) go out with either.
 */
export async function sendCached<T>(reply: FastifyReply, cache: UserCache, read: CachedRead<T>): Promise<FastifyReply> {
  const serialize = routeSerializer(reply)
  const body = await cache.rememberText(read.userId, read.kind, read.params, async () => serialize(await read.load()))
  return sendSerialized(reply, body)
}
