import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import { LRUCache } from 'lru-cache'

const ISSUER = 'moodlog'
const AUDIENCE = 'moodlog-api'

export interface AccessClaims {
  userId: number
  sessionId: string
}

export function newSessionId(): string {
  return randomUUID()
}

/** Verified tokens remembered, each until its own expiry (least recently used go first). */
const VERIFIED_CACHE_SIZE = 10_000

/** Clock skew tolerated between instances for `iat`. */
const IAT_LEEWAY_MS = 30_000

/**
 * Access tokens: HS256 JWT with sub, sid, iat, exp, iss, aud. fast-jwt verifies synchronously
 * with node:crypto (about 10 µs), where a WebCrypto-based verify costs over 100 µs of every
 * authenticated request (measured; see docs/PERFORMANCE.md).
 *
 * A client sends the same token with every request until it expires, so the claims of tokens
 * that verified are remembered, keyed by the token itself (the bearer pattern bounds its length),
 * never past their `exp`; failures are not kept. This saves about a tenth of a small request's
 * time (measured; docs/PERFORMANCE.md). Revocation does not depend on it: the session is checked
 * on every request.
 */
export class AccessTokens {
  private readonly signer: (payload: Record<string, unknown>) => string
  private readonly verifier: (token: string) => Record<string, unknown>
  private readonly verified = new LRUCache<string, AccessClaims>({ max: VERIFIED_CACHE_SIZE })

  constructor(
    key: Uint8Array,
    readonly ttlSeconds: number,
  ) {
    const secret = Buffer.from(key)
    this.signer = createSigner({ key: secret, algorithm: 'HS256', iss: ISSUER, aud: AUDIENCE, expiresIn: ttlSeconds * 1000 })
    this.verifier = createVerifier({
      key: secret,
      algorithms: ['HS256'],
      allowedIss: ISSUER,
      allowedAud: AUDIENCE,
      // allowedIss/allowedAud check the claims only when present: requiring them refuses tokens without.
      requiredClaims: ['sub', 'sid', 'iat', 'exp', 'iss', 'aud'],
    })
  }

  async sign(claims: AccessClaims): Promise<string> {
    return this.signer({ sub: String(claims.userId), sid: claims.sessionId })
  }

  /** The claims of a valid token, or undefined: any other algorithm (`none` included), key, audience or expiry fails. */
  async verify(token: string): Promise<AccessClaims | undefined> {
    const known = this.verified.get(token)
    if (known) return known
    let payload: Record<string, unknown>
    try {
      payload = this.verifier(token)
    } catch {
      return undefined
    }
    // A token issued in the future (beyond clock skew) was not issued by this server's clock.
    if (typeof payload.iat !== 'number' || payload.iat * 1000 > Date.now() + IAT_LEEWAY_MS) return undefined
    const userId = Number(payload.sub)
    if (!Number.isSafeInteger(userId) || userId <= 0 || typeof payload.sid !== 'string') return undefined
    const claims = Object.freeze({ userId, sessionId: payload.sid })
    const ttl = Number(payload.exp) * 1000 - Date.now()
    if (ttl > 0) this.verified.set(token, claims, { ttl })
    return claims
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
