import type { Queryable } from '../db/index.js'

export interface StoredResponse {
  requestHash: string
  /** Null only inside the transaction that claimed the key. */
  status: number | null
  body: unknown
}

/**
 * Removes the user's expired keys, skipping rows another transaction holds (never waits, never
 * deadlocks); whatever is skipped goes on a later request.
 */
export async function deleteExpiredKeys(db: Queryable, userId: number, ttlSeconds: number): Promise<void> {
  await db.query(
    `delete from idempotency_keys
      where (user_id, key) in (
        select user_id, key from idempotency_keys
         where user_id = $1 and created_at < now() - make_interval(secs => $2)
           for update skip locked)`,
    [userId, ttlSeconds],
  )
}

/**
 * Claims a key: true when this transaction now owns it (new, or expired and taken over). A
 * concurrent claim of the same key waits here until the owner commits or rolls back.
 */
export async function claimKey(db: Queryable, userId: number, key: string, requestHash: string, ttlSeconds: number): Promise<boolean> {
  const rows = await db.query(
    `insert into idempotency_keys (user_id, key, request_hash) values ($1, $2, $3)
     on conflict (user_id, key) do update
        set request_hash = excluded.request_hash, response_status = null, response_body = null, created_at = now()
      where idempotency_keys.created_at < now() - make_interval(secs => $4)
     returning 1`,
    [userId, key, requestHash, ttlSeconds],
  )
  return rows.length > 0
}

export async function findKey(db: Queryable, userId: number, key: string): Promise<StoredResponse | undefined> {
  const rows = await db.query<StoredResponse>(
    `select request_hash as "requestHash", response_status as status, response_body as body
       from idempotency_keys where user_id = $1 and key = $2`,
    [userId, key],
  )
  return rows[0]
}

export async function storeResponse(db: Queryable, userId: number, key: string, status: number, body: unknown): Promise<void> {
  // Sent as text and cast: drivers differ in how they serialise a JS value into jsonb.
  await db.query('update idempotency_keys set response_status = $3, response_body = $4::text::jsonb where user_id = $1 and key = $2', [
    userId,
    key,
    status,
    JSON.stringify(body),
  ])
}
