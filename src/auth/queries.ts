import type { Queryable } from '../db/index.js'

export interface UserRow {
  id: number
  email: string
  createdAt: Date
}

export interface UserWithHash extends UserRow {
  passwordHash: string
}

const USER_COLUMNS = 'id, email, created_at as "createdAt"'

export async function insertUser(db: Queryable, email: string, passwordHash: string): Promise<UserRow> {
  const rows = await db.query<UserRow>(`insert into users (email, password_hash) values ($1, $2) returning ${USER_COLUMNS}`, [
    email,
    passwordHash,
  ])
  return rows[0]!
}

export async function findUserByEmail(db: Queryable, email: string): Promise<UserWithHash | undefined> {
  const rows = await db.query<UserWithHash>(
    `select ${USER_COLUMNS}, password_hash as "passwordHash" from users where lower(email) = lower($1)`,
    [email],
  )
  return rows[0]
}

export async function findUserById(db: Queryable, userId: number): Promise<UserWithHash | undefined> {
  const rows = await db.query<UserWithHash>(`select ${USER_COLUMNS}, password_hash as "passwordHash" from users where id = $1`, [userId])
  return rows[0]
}

export async function updatePasswordHash(db: Queryable, userId: number, passwordHash: string): Promise<void> {
  await db.query('update users set password_hash = $2, updated_at = now() where id = $1', [userId, passwordHash])
}

export async function deleteUser(db: Queryable, userId: number): Promise<void> {
  // entries, sessions and refresh tokens go with it (ON DELETE CASCADE).
  await db.query('delete from users where id = $1', [userId])
}

/**
 * Opens a session and its first refresh token in one statement (atomic without a transaction, and
 * one round trip: a login's only write); returns the token's id.
 */
export async function insertSessionWithToken(
  db: Queryable,
  userId: number,
  sessionId: string,
  ttlSeconds: number,
  tokenHash: string,
): Promise<number> {
  const rows = await db.query<{ id: number }>(
    `with session as (
       insert into sessions (user_id, id, expires_at) values ($1, $2, now() + make_interval(secs => $3))
       returning user_id, id
     )
     insert into refresh_tokens (user_id, session_id, token_hash)
     select user_id, id, $4 from session
     returning id`,
    [userId, sessionId, ttlSeconds, tokenHash],
  )
  return rows[0]!.id
}

export async function insertRefreshToken(db: Queryable, userId: number, sessionId: string, tokenHash: string): Promise<number> {
  const rows = await db.query<{ id: number }>(
    'insert into refresh_tokens (user_id, session_id, token_hash) values ($1, $2, $3) returning id',
    [userId, sessionId, tokenHash],
  )
  return rows[0]!.id
}

export interface RefreshTokenRow {
  sessionId: string
  tokenHash: string
  spent: boolean
  /** The session is neither revoked nor past its absolute expiry. */
  sessionLive: boolean
  expiresInSeconds: number
}

/** Locks the token row: concurrent refreshes of one token are serialised, and exactly one wins. */
export async function lockRefreshToken(db: Queryable, userId: number, tokenId: number): Promise<RefreshTokenRow | undefined> {
  const rows = await db.query<RefreshTokenRow>(
    `select t.session_id as "sessionId", t.token_hash as "tokenHash", t.spent_at is not null as spent,
            (s.revoked_at is null and s.expires_at > now()) as "sessionLive",
            greatest(0, extract(epoch from s.expires_at - now()))::float8 as "expiresInSeconds"
       from refresh_tokens t
       join sessions s on s.user_id = t.user_id and s.id = t.session_id
      where t.user_id = $1 and t.id = $2
        for update of t`,
    [userId, tokenId],
  )
  return rows[0]
}

export async function spendRefreshToken(db: Queryable, userId: number, tokenId: number): Promise<void> {
  await db.query('update refresh_tokens set spent_at = now() where user_id = $1 and id = $2', [userId, tokenId])
}

export async function revokeSession(db: Queryable, userId: number, sessionId: string): Promise<void> {
  await db.query('update sessions set revoked_at = coalesce(revoked_at, now()) where user_id = $1 and id = $2', [userId, sessionId])
}

/** Revokes every live session of the user except `keep`; returns the revoked ids. */
export async function revokeSessions(db: Queryable, userId: number, keep?: string): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `update sessions set revoked_at = now()
      where user_id = $1 and revoked_at is null and ($2::uuid is null or id <> $2::uuid)
      returning id`,
    [userId, keep ?? null],
  )
  return rows.map((row) => row.id)
}

export async function liveSessionIds(db: Queryable, userId: number): Promise<string[]> {
  const rows = await db.query<{ id: string }>('select id from sessions where user_id = $1 and revoked_at is null and expires_at > now()', [
    userId,
  ])
  return rows.map((row) => row.id)
}

export async function isSessionLive(db: Queryable, userId: number, sessionId: string): Promise<boolean> {
  const rows = await db.query<{ live: boolean }>(
    'select (revoked_at is null and expires_at > now()) as live from sessions where user_id = $1 and id = $2',
    [userId, sessionId],
  )
  return rows[0]?.live === true
}
