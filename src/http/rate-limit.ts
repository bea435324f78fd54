import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { tooManyRequests } from './errors.js'

/** Probes and operator endpoints are never limited: an orchestrator must always reach them. */
const EXEMPT = /^\/(livez|readyz|health|metrics)(\?|$)/

/**
 * The general limit: RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_SECONDS per client, keyed by
 * user id when the request carries a valid access token and by IP otherwise. With Redis the
 * counter is shared by every instance (one atomic Lua round trip); if Redis fails, the limit fails
 * open — availability over strictness — and the outage is logged once.
 */
export async function installRateLimit(app: FastifyInstance): Promise<void> {
  const { config } = app
  if (config.rateLimitMax === 0) return
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowSeconds * 1000,
    ...(app.stores.redis ? { redis: app.stores.redis, nameSpace: 'ratelimit:' } : {}),
    skipOnError: true,
    allowList: (request: FastifyRequest) => EXEMPT.test(request.url),
    keyGenerator: async (request: FastifyRequest) => {
      const claims = request.headers.authorization ? await app.bearerClaims(request) : undefined
      return claims ? `user:${claims.userId}` : `ip:${request.ip}`
    },
    errorResponseBuilder: (_request, context) => tooManyRequests(context.ttl / 1000, 'Rate limit exceeded; see Retry-After.'),
    onExceeded: () => app.metrics.rateLimited(),
  })
}
