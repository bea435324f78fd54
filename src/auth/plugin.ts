import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { unauthorized } from '../http/errors.js'
import { PasswordHasher } from './passwords.js'
import { resolveJwtSecret } from './secret.js'
import { sessionIsLive, type AuthDeps } from './service.js'
import { AccessTokens } from './tokens.js'

export interface AuthUser {
  userId: number
  sessionId: string
}

declare module 'fastify' {
  interface FastifyInstance {
    auth: AuthDeps
    /** preHandler for routes that need a signed-in user; sets `request.user`. */
    authenticate: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    user: AuthUser | null
  }
}

/** The signed-in user of a route guarded by `app.authenticate`. */
export function currentUser(request: FastifyRequest): AuthUser {
  if (!request.user) throw unauthorized()
  return request.user
}

const BEARER = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/

export default fp(
  async function authPlugin(app: FastifyInstance) {
    const key = await resolveJwtSecret(app.config)
    const deps: AuthDeps = {
      db: app.db,
      store: app.store,
      hasher: new PasswordHasher(),
      tokens: new AccessTokens(key, app.config.accessTokenTtlSeconds),
      refreshTtlSeconds: app.config.refreshTokenTtlSeconds,
    }
    app.decorate('auth', deps)
    app.decorateRequest('user', null)
    app.decorate('authenticate', async (request: FastifyRequest) => {
      const match = BEARER.exec(request.headers.authorization ?? '')
      if (!match) throw unauthorized('Send `Authorization: Bearer <accessToken>`.')
      const claims = await deps.tokens.verify(match[1]!)
      if (!claims) throw unauthorized('The access token is invalid or expired.')
      if (!(await sessionIsLive(deps, claims.userId, claims.sessionId))) {
        throw unauthorized('The session has ended; sign in again.')
      }
      request.user = claims
    })
  },
  { name: 'auth' },
)
