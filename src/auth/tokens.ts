import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { createSigner, createVerifier, type VerifierOptions } from 'fast-jwt'
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

export interface AccessTokenOptions {
  /** The clock `iat` and `exp` are written and checked on, in epoch milliseconds (tests pass one they control). */
  now?: () => number
}

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
  private readonly verifierOptions: Partial<VerifierOptions> & { key: Buffer }
  /** Made once on the real clock; with a clock of the caller's, one is made per check instead. */
  private readonly realTimeVerifier: ((token: string) => Record<string, unknown>) | undefined
  private readonly verified: LRUCache<string, AccessClaims>
  private readonly now: () => number

  constructor(
    key: Uint8Array,
    readonly ttlSeconds: number,
    options: AccessTokenOptions = {},
  ) {
    const secret = Buffer.from(key)
    this.now = options.now ?? Date.now
    this.signer = createSigner({ key: secret, algorithm: 'HS256', iss: ISSUER, aud: AUDIENCE, expiresIn: ttlSeconds * 1000 })
    this.verifierOptions = {
      key: secret,
      algorithms: ['HS256'],
      allowedIss: ISSUER,
      allowedAud: AUDIENCE,
      // allowedIss/allowedAud check the claims only when present: requiring them refuses tokens without.
      requiredClaims: ['sub', 'sid', 'iat', 'exp', 'iss', 'aud'],
    }
    this.realTimeVerifier = options.now ? undefined : createVerifier(this.verifierOptions)
    // Remembered tokens expire on the same clock (read on every check, as in the memory store).
    const clock = options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}
    this.verified = new LRUCache<string, AccessClaims>({ ...clock, max: VERIFIED_CACHE_SIZE })
  }

  async sign(claims: AccessClaims): Promise<string> {
    // fast-jwt computes `exp` from a given `iat`, so both come from this clock.
    return this.signer({ sub: String(claims.userId), sid: claims.sessionId, iat: Math.floor(this.now() / 1000) })
  }

  /** The claims of a valid token, or undefined: any other algorithm (`none` included), key, audience or expiry fails. */
  async verify(token: string): Promise<AccessClaims | undefined> {
    const known = this.verified.get(token)
    if (known) return known
    const now = this.now()
    let payload: Record<string, unknown>
    try {
      // fast-jwt takes a clock only as a fixed time of the verifier: with a clock given, one is
      // made for each check, so that `exp` is checked on it.
      const verifier = this.realTimeVerifier ?? createVerifier({ ...this.verifierOptions, clockTimestamp: now })
      payload = verifier(token) as Record<string, unknown>
    } catch {
      return undefined
    }
    // A token issued in the future (beyond clock skew) was not issued by this server's clock.
    if (typeof payload.iat !== 'number' || payload.iat * 1000 > now + IAT_LEEWAY_MS) return undefined
    const userId = Number(payload.sub)
    if (!Number.isSafeInteger(userId) || userId <= 0 || typeof payload.sid !== 'string') return undefined
    const claims = Object.freeze({ userId, sessionId: payload.sid })
    const ttl = Number(payload.exp) * 1000 - now
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
