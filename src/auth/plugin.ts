import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { bearerUnauthorized } from '../http/errors.js'
import { forgetUserBudget } from '../http/rate-limit.js'
import { PasswordHasher } from './passwords.js'
import { findUserById } from './queries.js'
import { jwtKey } from './secret.js'
import { sessionIsLive, type AuthDeps } from './service.js'
import { SignInThrottle } from './throttle.js'
import { AccessTokens, type AccessClaims } from './tokens.js'

export interface AuthUser {
  userId: number
  sessionId: string
}

declare module 'fastify' {
  interface FastifyInstance {
    auth: AuthDeps
    /**
     * preParsing hook of routes that need a signed-in user; sets `request.user`. It runs after the
     * rate limit (onRequest) and before the body is read and validated: an anonymous request is
     * 401, never a 400 or 415 about its body. Their answers are
     * personal: `Cache-Control: private, no-cache` (a browser may keep them and revalidate with the
     * ETag, a shared cache never) and `Vary: Authorization`.
     */
    authenticate: <Payload>(request: FastifyRequest, reply: FastifyReply, payload: Payload) => Promise<Payload>
    /** The verified claims of the request's bearer token, memoised per request (the rate limiter keys on them too). */
    bearerClaims: (request: FastifyRequest) => Promise<AccessClaims | undefined>
    /** The claims of a verified token whose session is live (not revoked, user not deleted), memoised per request. */
    liveSession: (request: FastifyRequest) => Promise<AccessClaims | undefined>
  }
  interface FastifyRequest {
    user: AuthUser | null
  }
}

/** The signed-in user of a route guarded by `app.authenticate`. */
export function currentUser(request: FastifyRequest): AuthUser {
  if (!request.user) throw bearerUnauthorized('Send `Authorization: Bearer <accessToken>`.', false)
  return request.user
}

/** moodlog's tokens are about 250 characters; anything much longer is not one of them. The scheme is case-insensitive (RFC 9110 §11.1). */
const BEARER = /^Bearer +([A-Za-z0-9_.-]{1,1024}) *$/i
const BEARER_SENT = /^Bearer +\S/i

export default fp(
  async function authPlugin(app: FastifyInstance) {
    const throttle = new SignInThrottle(app.stores.redis, async (userId) => (await findUserById(app.db.points, userId)) !== undefined)
    const deps: AuthDeps = {
      db: app.db,
      store: app.stores.shared,
      throttle,
      hasher: new PasswordHasher(),
      tokens: new AccessTokens(jwtKey(app.config), app.config.accessTokenTtlSeconds),
      refreshTtlSeconds: app.config.refreshTokenTtlSeconds,
      forgetAccount: async (userId, canonicalEmail) => {
        await Promise.all([app.cache.forget(userId), throttle.forget(canonicalEmail), forgetUserBudget(app, userId)])
      },
    }
    app.decorate('auth', deps)
    new Counter({
      name: 'moodlog_password_checks_dropped_total',
      help: 'Sign-ins whose client disconnected while they waited for the password hasher (not hashed)',
      registers: [app.metrics.registry],
      collect() {
        this.reset()
        this.inc(deps.hasher.dropped)
      },
    })
    app.decorateRequest('user', null)
    const verified = new WeakMap<FastifyRequest, Promise<AccessClaims | undefined>>()
    const bearerClaims = (request: FastifyRequest) => {
      let claims = verified.get(request)
      if (!claims) {
        const match = BEARER.exec(request.headers.authorization ?? '')
        claims = match ? deps.tokens.verify(match[1]!) : Promise.resolve(undefined)
        verified.set(request, claims)
      }
      return claims
    }
    app.decorate('bearerClaims', bearerClaims)
    const live = new WeakMap<FastifyRequest, Promise<boolean>>()
    const isLive = (request: FastifyRequest, claims: AccessClaims) => {
      let answer = live.get(request)
      if (!answer) {
        answer = sessionIsLive(deps, claims.userId, claims.sessionId)
        live.set(request, answer)
      }
      return answer
    }
    app.decorate('liveSession', async (request: FastifyRequest) => {
      const claims = await bearerClaims(request)
      return claims && (await isLive(request, claims)) ? claims : undefined
    })
    app.decorate('authenticate', async <Payload>(request: FastifyRequest, reply: FastifyReply, payload: Payload) => {
      reply.header('cache-control', 'private, no-cache')
      const vary = reply.getHeader('vary')
      reply.header('vary', vary ? `${String(vary)}, Authorization` : 'Authorization')
      // Another scheme (Basic, …) is no bearer token at all: the challenge carries no error then.
      if (!BEARER_SENT.test(request.headers.authorization ?? ''))
        throw bearerUnauthorized('Send `Authorization: Bearer <accessToken>`.', false)
      const claims = await bearerClaims(request)
      if (!claims) throw bearerUnauthorized('The access token is invalid or expired.', true)
      if (!(await isLive(request, claims))) throw bearerUnauthorized('The session has ended; sign in again.', true)
      request.user = claims
      return payload
    })
  },
  { name: 'moodlog-auth', dependencies: ['moodlog-core', 'moodlog-metrics'] },
)
