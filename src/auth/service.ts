import type { Database } from '../db/index.js'
import { isForeignKeyViolation, isUniqueViolation } from '../db/index.js'
import { badRequest, bearerUnauthorized, conflict, HttpError, unauthorized } from '../http/errors.js'
import type { Store } from '../store/types.js'
import { canonicalEmail, checkSafeText, newAccountEmail } from './email.js'
import type { PasswordHasher } from './passwords.js'
import * as q from './queries.js'
import type { Attempt, SignInThrottle } from './throttle.js'
import {
  formatRefreshToken,
  hashSecret,
  newRefreshSecret,
  newSessionId,
  parseRefreshToken,
  sameHash,
  type AccessTokens,
  type RefreshTokenParts,
} from './tokens.js'

export interface AuthDeps {
  db: Database
  /** Session states (revocations): shared between instances when Redis is configured. */
  store: Store
  /** Password-check budgets: never fully open, even while Redis is down. */
  throttle: SignInThrottle
  hasher: PasswordHasher
  tokens: AccessTokens
  refreshTtlSeconds: number
  /** Erasure beyond the database: what caches, limits and throttles keep about a deleted account. */
  forgetAccount(userId: number, canonicalEmail: string): Promise<void>
}

export interface TokenPair {
  accessToken: string
  refreshToken: string
  tokenType: 'Bearer'
  expiresIn: number
}

/** Unknown email, wrong password and a just-deleted account look the same to the client. */
const invalidLogin = () => new HttpError(401, 'invalid-credentials', 'Unauthorized', 'Email or password is incorrect.')

/** How long a session's state is trusted from the store before asking the database again. */
const SESSION_CACHE_MS = 60_000

export function checkNewPassword(hasher: PasswordHasher, password: string, field = 'password'): void {
  checkSafeText(password, field)
  if (hasher.isCommon(password)) {
    throw badRequest('This password is among the most commonly used ones; choose another.', [{ field, message: 'is too common' }])
  }
}

const sessionKey = (sessionId: string) => `session:${sessionId}`

export async function register(deps: AuthDeps, rawEmail: string, password: string): Promise<q.UserRow> {
  const email = newAccountEmail(rawEmail)
  checkNewPassword(deps.hasher, password)
  const passwordHash = await deps.hasher.hash(password)
  try {
    return await q.insertUser(deps.db, email, passwordHash)
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict('An account with this email already exists.', 'email-taken')
    throw error
  }
}

async function issueTokens(deps: AuthDeps, userId: number, sessionId: string, db = deps.db as Pick<Database, 'query'>): Promise<TokenPair> {
  const secret = newRefreshSecret()
  const tokenId = await q.insertRefreshToken(db, userId, sessionId, hashSecret(secret))
  return tokenPair(deps, userId, sessionId, { userId, tokenId, secret })
}

async function tokenPair(deps: AuthDeps, userId: number, sessionId: string, refresh: RefreshTokenParts): Promise<TokenPair> {
  return {
    accessToken: await deps.tokens.sign({ userId, sessionId }),
    refreshToken: formatRefreshToken(refresh),
    tokenType: 'Bearer',
    expiresIn: deps.tokens.ttlSeconds,
  }
}

/**
 * `address`: the client's (see `clientAddress`); `signal`: the request's, so that a sign-in whose
 * client has gone is not hashed. The attempt is counted before the password is checked.
 */
export async function login(deps: AuthDeps, rawEmail: string, password: string, address: string, signal?: AbortSignal): Promise<TokenPair> {
  checkSafeText(rawEmail, 'email')
  checkSafeText(password, 'password')
  const email = canonicalEmail(rawEmail)
  const attempt = await deps.throttle.take(email, address)
  const [user, valid] = await checked(attempt, async () => {
    const found = await q.findUserByEmail(deps.db.points, email)
    const matches = found ? await deps.hasher.verify(found.passwordHash, password, signal) : await deps.hasher.verifyDummy(password, signal)
    return [found, matches] as const
  })
  if (!user || !valid) throw invalidLogin()
  await attempt.succeeded(user.id)

  const sessionId = newSessionId()
  const secret = newRefreshSecret()
  let tokenId: number
  try {
    tokenId = await q.insertSessionWithToken(deps.db, user.id, sessionId, deps.refreshTtlSeconds, hashSecret(secret))
  } catch (error) {
    // The account was deleted while its password was being checked.
    if (isForeignKeyViolation(error)) throw invalidLogin()
    throw error
  }
  return tokenPair(deps, user.id, sessionId, { userId: user.id, tokenId, secret })
}

/**
 * Tells every instance at once. Remembered for as long as any access token of the session can
 * live. If the store is down, the database already says "revoked" and instances ask it directly
 * (see `sessionIsLive`); the store keeps the write and makes it when it answers again, since other
 * instances may hold the session as live there until then.
 */
async function markRevoked(deps: AuthDeps, sessionIds: string[]): Promise<void> {
  await Promise.all(
    sessionIds.map((id) => deps.store.setEventually(sessionKey(id), 'revoked', deps.tokens.ttlSeconds * 1000).catch(() => {})),
  )
}

const invalidRefresh = () => unauthorized('The refresh token is invalid, expired or revoked.')

/**
 * Exchanges a refresh token for a new pair and spends it. A spent token presented again means
 * it was stolen or replayed: the whole session (every token of the family, the newest included)
 * is revoked.
 */
export async function refresh(deps: AuthDeps, token: string): Promise<TokenPair> {
  const parts = parseRefreshToken(token)
  if (!parts) throw invalidRefresh()
  const outcome = await deps.db.transaction(async (tx) => {
    const row = await q.lockRefreshToken(tx, parts.userId, parts.tokenId)
    if (!row || !sameHash(row.tokenHash, hashSecret(parts.secret))) return { kind: 'invalid' as const }
    if (!row.sessionLive) return { kind: 'invalid' as const }
    if (row.spent) {
      await q.revokeSession(tx, parts.userId, row.sessionId)
      return { kind: 'reused' as const, sessionId: row.sessionId }
    }
    await q.spendRefreshToken(tx, parts.userId, parts.tokenId)
    return { kind: 'ok' as const, pair: await issueTokens(deps, parts.userId, row.sessionId, tx) }
  })
  if (outcome.kind === 'reused') {
    await markRevoked(deps, [outcome.sessionId])
    throw unauthorized('This refresh token was already used; the session has been revoked. Sign in again.')
  }
  if (outcome.kind === 'invalid') throw invalidRefresh()
  return outcome.pair
}

/**
 * Ends the session of a genuine refresh token. Idempotent, as clients retry it: a token of a
 * session that has already ended (signed out, expired, revoked) succeeds too. Only a token this
 * server never issued (or whose account was deleted) is refused.
 */
export async function logout(deps: AuthDeps, token: string): Promise<void> {
  const parts = parseRefreshToken(token)
  if (!parts) throw invalidRefresh()
  const outcome = await deps.db.transaction(async (tx) => {
    const row = await q.lockRefreshToken(tx, parts.userId, parts.tokenId)
    if (!row || !sameHash(row.tokenHash, hashSecret(parts.secret))) return 'unknown' as const
    if (!row.sessionLive) return 'ended' as const
    await q.revokeSession(tx, parts.userId, row.sessionId)
    return row.sessionId
  })
  if (outcome === 'unknown') throw unauthorized('This is not a refresh token of this server, or its account was deleted.')
  if (outcome !== 'ended') await markRevoked(deps, [outcome])
}

export async function logoutAll(deps: AuthDeps, userId: number): Promise<void> {
  await markRevoked(deps, await q.revokeSessions(deps.db, userId))
}

/** Is the access token's session still live? Answered from the store when it can, else the database. */
export async function sessionIsLive(deps: AuthDeps, userId: number, sessionId: string): Promise<boolean> {
  let storeUp = true
  try {
    const cached = await deps.store.get(sessionKey(sessionId))
    if (cached !== undefined) return cached === `live:${userId}`
  } catch {
    storeUp = false // Redis down: the database is the source of truth.
  }
  const live = await q.isSessionLive(deps.db.points, userId, sessionId)
  if (storeUp) {
    await deps.store
      .set(sessionKey(sessionId), live ? `live:${userId}` : 'revoked', live ? SESSION_CACHE_MS : deps.tokens.ttlSeconds * 1000)
      .catch(() => {})
  }
  return live
}

/**
 * Runs the password check of `attempt`; if it fails before an answer (client gone while queued,
 * hasher busy, database down), the attempt is given back: only wrong passwords count. A client
 * that leaves its sign-ins half-way would otherwise spend its own and the account's budgets with
 * guesses that were never made.
 */
async function checked<T>(attempt: Attempt, check: () => Promise<T>): Promise<T> {
  try {
    return await check()
  } catch (error) {
    await attempt.unchecked()
    throw error
  }
}

/** The same throttle as sign-in: a stolen access token must not become an unthrottled password oracle. */
async function verifyCurrentPassword(
  deps: AuthDeps,
  userId: number,
  password: string,
  address: string,
  field = 'password',
): Promise<q.UserWithHash> {
  checkSafeText(password, field)
  const user = await q.findUserById(deps.db, userId)
  if (!user) throw bearerUnauthorized('The session has ended; sign in again.', true)
  const attempt = await deps.throttle.take(user.emailCanonical, address)
  if (!(await checked(attempt, () => deps.hasher.verify(user.passwordHash, password)))) {
    throw new HttpError(403, 'wrong-password', 'Forbidden', 'The current password is incorrect.')
  }
  await attempt.succeeded(user.id)
  return user
}

/** Changes the password and revokes every other session of the user (this one stays signed in). */
export async function changePassword(
  deps: AuthDeps,
  user: { userId: number; sessionId: string },
  currentPassword: string,
  newPassword: string,
  address: string,
): Promise<void> {
  checkNewPassword(deps.hasher, newPassword, 'newPassword')
  await verifyCurrentPassword(deps, user.userId, currentPassword, address, 'currentPassword')
  const passwordHash = await deps.hasher.hash(newPassword)
  const revoked = await deps.db.transaction(async (tx) => {
    await q.updatePasswordHash(tx, user.userId, passwordHash)
    return q.revokeSessions(tx, user.userId, user.sessionId)
  })
  await markRevoked(deps, revoked)
}

/** Deletes the account and everything it owns in one transaction. */
export async function deleteAccount(deps: AuthDeps, userId: number, password: string, address: string): Promise<void> {
  const user = await verifyCurrentPassword(deps, userId, password, address)
  const sessions = await deps.db.transaction(async (tx) => {
    const ids = await q.liveSessionIds(tx, userId)
    await q.deleteUser(tx, userId)
    return ids
  })
  await markRevoked(deps, sessions)
  // The rows are gone, which is what counts: a store that is down keeps only keys that expire.
  await deps.forgetAccount(userId, user.emailCanonical).catch(() => {})
}
