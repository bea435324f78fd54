import type { FastifyReply } from 'fastify'

/**
 * Bodies serialised ahead of sending, so that they can be cached as they go out: a cache hit is
 * then sent as stored, without parsing and serialising it again.
 */

/** The route's own response serializer (its schema for 200), as a function of the value. */
export function routeSerializer(reply: FastifyReply): (value: unknown) => string {
  return (value) => reply.serialize(value) as string
}

/** Sends an already serialised JSON body: a string with a JSON content type goes out as it is. */
export function sendSerialized(reply: FastifyReply, body: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(body as never)
}
