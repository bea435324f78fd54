import { createSigner } from 'fast-jwt'

/**
 * Bearer tokens that must not get in, built from a real one so that only one thing is wrong with each:
 * its signature, its expiry, its issuer or its audience. Signed with the app's own key where the
 * signature is meant to be right.
 */
export type BadToken =
  'none' | 'not a bearer' | 'forged signature' | 'other key' | 'expired' | 'wrong issuer' | 'wrong audience' | 'deleted user'

export const BAD_TOKENS: readonly BadToken[] = [
  'none',
  'not a bearer',
  'forged signature',
  'other key',
  'expired',
  'wrong issuer',
  'wrong audience',
  'deleted user',
]

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
}

/** The `Authorization` header for a bad token derived from `live` (a valid access token); `deleted` is a deleted user's own. */
export function badAuthorization(kind: BadToken, live: string, deleted: string, jwtSecret: string): string | undefined {
  const claims = claimsOf(live)
  const now = Math.floor(Date.now() / 1000)
  const sign = (payload: Record<string, unknown>, key = jwtSecret) => createSigner({ key: Buffer.from(key), algorithm: 'HS256' })(payload)
  switch (kind) {
    case 'none':
      return undefined
    case 'not a bearer':
      return `Basic ${Buffer.from('someone:secret').toString('base64')}`
    case 'forged signature': {
      const [head, body, signature] = live.split('.') as [string, string, string]
      // Another signature of the same length: the first character changed, so every bit after decoding may differ.
      return `Bearer ${head}.${body}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`
    }
    case 'other key':
      return `Bearer ${sign(claims, `${jwtSecret}-but-another-one`)}`
    case 'expired':
      // Issued a day ago for an hour: expired long before any clock skew could excuse it.
      return `Bearer ${sign({ ...claims, iat: now - 86_400, exp: now - 82_800 })}`
    case 'wrong issuer':
      return `Bearer ${sign({ ...claims, iss: 'someone-else' })}`
    case 'wrong audience':
      return `Bearer ${sign({ ...claims, aud: 'another-api' })}`
    case 'deleted user':
      return `Bearer ${deleted}`
  }
}
