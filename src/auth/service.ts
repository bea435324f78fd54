import { createHash } from 'node:crypto'
import type { Database } from '../db/index.js'
import { isForeignKeyViolation, isUniqueViolation } from '../db/index.js'
import { badRequest, conflict, HttpError, tooManyRequests, unauthorized } from '../http/errors.js'
import type { Store } from '../store/types.js'
import type { PasswordHasher } from './passwords.js'
import * as q from './queries.js'
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
  /** Login failure counters: never fully open, even while Redis is down. */
  throttle: Store
  hasher: PasswordHasher
  tokens: AccessTokens
  refreshTtlSeconds: number
}

export interface TokenPair {
  accessToken: string
  refreshToken: string
  tokenType: 'Bearer'
  expiresIn: number
}

/** Login throttling: failures only; per account strict, per IP looser (a shared office address). */
export const LOGIN_LIMITS = {
  windowMs: 15 * 60 * 1000,
  perAccount: 10,
  perIp: 100,
} as const

/** Unknown email, wrong password and a just-deleted account look the same to the client. */
const invalidLogin = () => new HttpError(401, 'invalid-credentials', 'Unauthorized', 'Email or password is incorrect.')
const THROTTLED_LOGIN = 'Too many failed sign-in attempts; try again later.'

/** How long a session's state is trusted from the store before asking the database again. */
const SESSION_CACHE_MS = 60_000

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export function normaliseEmail(raw: string): string {
  const email = raw.trim()
  if (!EMAIL.test(email) || email.length > 254)
    throw badRequest('The email address is not valid.', [{ field: 'email', message: 'must be an email address' }])
  return email
}

export function checkNewPassword(hasher: PasswordHasher, password: string, field = 'password'): void {
  if (hasher.isCommon(password)) {
    throw badRequest('This password is among the most commonly used ones; choose another.', [{ field, message: 'is too common' }])
  }
}

const sessionKey = (sessionId: string) => `session:${sessionId}`
const accountKey = (email: string) => `login-fail:account:${createHash('sha256').update(email.toLowerCase()).digest('hex')}`
const ipKey = (ip: string) => `login-fail:ip:${ip}`

export async function register(deps: AuthDeps, rawEmail: string, password: string): Promise<q.UserRow> {
  const email = normaliseEmail(rawEmail)
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

/** `signal`: the request's, so that a sign-in whose client has gone is not hashed. */
export async function login(deps: AuthDeps, rawEmail: string, password: string, ip: string, signal?: AbortSignal): Promise<TokenPair> {
  const email = rawEmail.trim()
  const [account, address] = await Promise.all([deps.throttle.get(accountKey(email)), deps.throttle.get(ipKey(ip))])
  if (Number(account) >= LOGIN_LIMITS.perAccount || Number(address) >= LOGIN_LIMITS.perIp) {
    throw tooManyRequests(LOGIN_LIMITS.windowMs / 1000, THROTTLED_LOGIN)
  }

  const user = await q.findUserByEmail(deps.db, email)
  const valid = user ? await deps.hasher.verify(user.passwordHash, password, signal) : await deps.hasher.verifyDummy(password, signal)
  if (!user || !valid) {
    await Promise.all([
      deps.throttle.increment(accountKey(email), LOGIN_LIMITS.windowMs),
      deps.throttle.increment(ipKey(ip), LOGIN_LIMITS.windowMs),
    ])
    throw invalidLogin()
  }

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
 * (see `sessionIsLive`), so nothing is lost.
 */
async function markRevoked(deps: AuthDeps, sessionIds: string[]): Promise<void> {
  await Promise.all(sessionIds.map((id) => deps.store.set(sessionKey(id), 'revoked', deps.tokens.ttlSeconds * 1000).catch(() => {})))
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

export async function logout(deps: AuthDeps, token: string): Promise<void> {
  const parts = parseRefreshToken(token)
  if (!parts) throw invalidRefresh()
  const sessionId = await deps.db.transaction(async (tx) => {
    const row = await q.lockRefreshToken(tx, parts.userId, parts.tokenId)
    if (!row || !row.sessionLive || !sameHash(row.tokenHash, hashSecret(parts.secret))) return undefined
    await q.revokeSession(tx, parts.userId, row.sessionId)
    return row.sessionId
  })
  if (!sessionId) throw invalidRefresh()
  await markRevoked(deps, [sessionId])
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
  const live = await q.isSessionLive(deps.db, userId, sessionId)
  if (storeUp) {
    await deps.store
      .set(sessionKey(sessionId), live ? `live:${userId}` : 'revoked', live ? SESSION_CACHE_MS : deps.tokens.ttlSeconds * 1000)
      .catch(() => {})
  }
  return live
}

async function verifyCurrentPassword(deps: AuthDeps, userId: number, password: string, ip: string): Promise<q.UserWithHash> {
  const user = await q.findUserById(deps.db, userId)
  if (!user) throw unauthorized()
  const key = accountKey(user.email)
  if (Number(await deps.throttle.get(key)) >= LOGIN_LIMITS.perAccount) throw tooManyRequests(LOGIN_LIMITS.windowMs / 1000, THROTTLED_LOGIN)
  if (!(await deps.hasher.verify(user.passwordHash, password))) {
    await Promise.all([deps.throttle.increment(key, LOGIN_LIMITS.windowMs), deps.throttle.increment(ipKey(ip), LOGIN_LIMITS.windowMs)])
    throw new HttpError(403, 'wrong-password', 'Forbidden', 'The current password is incorrect.')
  }
  return user
}

/** Changes the password and revokes every other session of the user (this one stays signed in). */
export async function changePassword(
  deps: AuthDeps,
  user: { userId: number; sessionId: string },
  currentPassword: string,
  newPassword: string,
  ip: string,
): Promise<void> {
  await verifyCurrentPassword(deps, user.userId, currentPassword, ip)
  checkNewPassword(deps.hasher, newPassword, 'newPassword')
  const passwordHash = await deps.hasher.hash(newPassword)
  const revoked = await deps.db.transaction(async (tx) => {
    await q.updatePasswordHash(tx, user.userId, passwordHash)
    return q.revokeSessions(tx, user.userId, user.sessionId)
  })
  await markRevoked(deps, revoked)
}

/** Deletes the account and everything it owns in one transaction. */
export async function deleteAccount(deps: AuthDeps, userId: number, password: string, ip: string): Promise<void> {
  await verifyCurrentPassword(deps, userId, password, ip)
  const sessions = await deps.db.transaction(async (tx) => {
    const ids = await q.liveSessionIds(tx, userId)
    await q.deleteUser(tx, userId)
    return ids
  })
  await markRevoked(deps, sessions)
}
