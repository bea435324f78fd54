import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { errors, jwtVerify, SignJWT } from 'jose'

const ISSUER = 'moodlog'
const AUDIENCE = 'moodlog-api'

export interface AccessClaims {
  userId: number
  sessionId: string
}

export function newSessionId(): string {
  return randomUUID()
}

/** Access tokens: HS256 JWT with sub, sid, iat, exp, iss, aud. */
export class AccessTokens {
  constructor(
    private readonly key: Uint8Array,
    readonly ttlSeconds: number,
  ) {}

  sign(claims: AccessClaims): Promise<string> {
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(claims.userId))
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key)
  }

  /** The claims of a valid token, or undefined: any other algorithm (`none` included), key, audience or expiry fails. */
  async verify(token: string): Promise<AccessClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['sub', 'sid', 'iat', 'exp'],
      })
      const userId = Number(payload.sub)
      if (!Number.isSafeInteger(userId) || userId <= 0 || typeof payload.sid !== 'string') return undefined
      return { userId, sessionId: payload.sid }
    } catch (error) {
      if (error instanceof errors.JOSEError || error instanceof TypeError) return undefined
      throw error
    }
  }
}

/**
 * Refresh tokens are opaque to clients: `<userId>.<tokenId>.<256 random bits>`. The ids let the
 * server find the row by its primary key (one shard); only a SHA-256 of the secret part is stored.
 */
export interface RefreshTokenParts {
  userId: number
  tokenId: number
  secret: string
}

export function newRefreshSecret(): string {
  return randomBytes(32).toString('base64url')
}

export function formatRefreshToken(parts: RefreshTokenParts): string {
  return `${parts.userId}.${parts.tokenId}.${parts.secret}`
}

export function parseRefreshToken(token: string): RefreshTokenParts | undefined {
  const match = /^([1-9]\d{0,15})\.([1-9]\d{0,15})\.([A-Za-z0-9_-]{43})$/.exec(token)
  if (!match) return undefined
  return { userId: Number(match[1]), tokenId: Number(match[2]), secret: match[3]! }
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex')
  const right = Buffer.from(b, 'hex')
  return left.length === right.length && timingSafeEqual(left, right)
}
