import net from 'node:net'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { tooManyRequests } from './errors.js'

/** Probes and operator endpoints are never limited: an orchestrator must always reach them. */
const EXEMPT = /^\/(livez|readyz|health|metrics)(\?|$)/

/** Where the general limit's counters live in Redis, and the key of one user's budget. */
const NAMESPACE = 'ratelimit:'
const userBucket = (userId: number) => `user:${userId}`

/** Erasure: drops a deleted account's budget (in process it is a number that expires with its window). */
export async function forgetUserBudget(app: FastifyInstance, userId: number): Promise<void> {
  await app.stores.redis?.unlink(NAMESPACE + userBucket(userId))
}

/** Does the route declare bearer authentication (its OpenAPI `security`)? Public routes never key by user. */
function takesBearer(request: FastifyRequest): boolean {
  const security = (request.routeOptions.schema as { security?: unknown[] } | undefined)?.security
  return Array.isArray(security) && security.length > 0
}

/**
 * The general limit: RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_SECONDS per client, keyed by
 * user id only for a live session on a route that takes a bearer token (a verified token whose
 * session is neither revoked nor of a deleted account), and by client address otherwise: sign-up
 * and sign-in always count against the address, so K accounts do not give K budgets. With Redis the
 * counter is shared by every instance (one atomic Lua round trip); if Redis fails, the limit fails
 * open — availability over strictness — and the outage is logged once. RATE_LIMIT_MAX=0 turns it off
 * (no `app.rateLimit` then). Routes registered after it are limited.
 */
export const rateLimitPlugin = fp(
  async function generalRateLimit(app: FastifyInstance) {
    const { config } = app
    if (config.rateLimitMax === 0) return
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimitMax,
      timeWindow: config.rateLimitWindowSeconds * 1000,
      ...(app.stores.redis ? { redis: app.stores.redis, nameSpace: NAMESPACE } : {}),
      skipOnError: true,
      allowList: (request: FastifyRequest) => EXEMPT.test(request.url),
      keyGenerator: async (request: FastifyRequest) => {
        const claims =
          request.headers.authorization && takesBearer(request) ? await app.liveSession(request).catch(() => undefined) : undefined
        return claims ? userBucket(claims.userId) : `ip:${clientAddress(request)}`
      },
      errorResponseBuilder: (_request, context) => tooManyRequests(context.ttl / 1000, 'Rate limit exceeded; see Retry-After.'),
      onExceeded: () => app.metrics.rateLimited(),
    })
  },
  { name: 'moodlog-rate-limit', dependencies: ['moodlog-core', 'moodlog-auth', 'moodlog-metrics'] },
)

/**
 * The client address that limits and throttles count against: `request.ip` (which follows
 * TRUST_PROXY), but never a value that is not an IP address (a forwarded header is text; a forged
 * one must not pick a bucket), keyed by `addressKey`.
 */
export function clientAddress(request: FastifyRequest): string {
  return addressKey(net.isIP(request.ip) ? request.ip : (request.socket?.remoteAddress ?? 'unknown'))
}

/**
 * What one client is counted as: an IPv4 address as it is, an IPv4 client seen through a
 * dual-stack socket (`::ffff:a.b.c.d`, or `::ffff:cb00:7107`) as that IPv4 address, and an IPv6
 * client by its /56, the block one customer is often given (RIPE-690; or a /48), every address of
 * which they can use; docs/OPERATIONS.md "Sign-in throttling". Anything else (a key already, or
 * `unknown`) is returned as it is, so keying twice is harmless.
 */
export function addressKey(address: string): string {
  const ip = address.split('%')[0]!.toLowerCase()
  if (!net.isIPv6(ip)) return address
  const words = ipv6Words(ip)
  if (words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff) {
    return [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.')
  }
  const prefix = [words[0]!, words[1]!, words[2]!, words[3]! & 0xff00]
  return `${prefix.map((word) => word.toString(16)).join(':')}::/56`
}

/** The eight 16-bit words of a valid IPv6 address (an embedded dotted quad read as two words). */
function ipv6Words(ip: string): number[] {
  let address = ip
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address)
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    address = `${address.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = address.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups.map((group) => parseInt(group, 16))
}
