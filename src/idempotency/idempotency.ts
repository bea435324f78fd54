import { createHash } from 'node:crypto'
import { sqlState, type Database, type Transaction } from '../db/index.js'
import { HttpError, unprocessable } from '../http/errors.js'
import * as q from './queries.js'

/** Keys are kept this long (per user); after that the same key starts afresh. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60

/**
 * How long a retry waits for a first request with the same key to finish before answering 409.
 * Parallel duplicates normally wait milliseconds and then all get the first one's response.
 */
const WAIT_FOR_FIRST_MS = 2000

const LOCK_NOT_AVAILABLE = '55P03'

export interface IdempotentResult<T> {
  status: number
  body: T
  /** True when this is the stored response of an earlier request. */
  replayed: boolean
}

const inProgress = () =>
  new HttpError(409, 'idempotency-key-in-use', 'Conflict', 'A request with this Idempotency-Key is still being processed; retry shortly.', {
    headers: { 'retry-after': '1' },
  })

/** SHA-256 of the request, with the body's keys sorted: key order and whitespace do not make a body "different". */
export function requestHash(route: string, body: Record<string, unknown>): string {
  return createHash('sha256')
    .update(route)
    .update('\n')
    .update(JSON.stringify(body, Object.keys(body).sort()))
    .digest('hex')
}

/**
 * Runs `work` at most once per (user, key). The key is claimed (INSERT … ON CONFLICT), the work
 * done and its response stored in ONE transaction: a crash or error rolls the claim back with the
 * work, so a key is never stuck half-used. A concurrent request with the same key blocks on the
 * claimed row until the first commits, then replays its response; if the first takes longer than
 * WAIT_FOR_FIRST_MS, it gets 409 (https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/).
 * PGlite runs one transaction at a time, so there the second request simply runs after the first.
 */
export async function runIdempotent<T>(
  db: Database,
  userId: number,
  key: string,
  hash: string,
  status: number,
  work: (tx: Transaction) => Promise<T>,
): Promise<IdempotentResult<T>> {
  try {
    return await db.transaction(
      async (tx) => {
        await q.deleteExpiredKeys(tx, userId, IDEMPOTENCY_TTL_SECONDS)
        if (await q.claimKey(tx, userId, key, hash, IDEMPOTENCY_TTL_SECONDS)) {
          const body = await work(tx)
          await q.storeResponse(tx, userId, key, status, body)
          return { status, body, replayed: false }
        }
        const stored = await q.findKey(tx, userId, key)
        // Gone between the two statements (expired and cleaned by a parallel request): a retry will claim it.
        if (!stored) throw inProgress()
        if (stored.requestHash !== hash) {
          throw unprocessable(
            'This Idempotency-Key was already used with a different request body; use a new key.',
            'idempotency-key-reused',
          )
        }
        if (stored.status === null) throw inProgress()
        return { status: stored.status, body: stored.body as T, replayed: true }
      },
      { lockTimeoutMs: WAIT_FOR_FIRST_MS },
    )
  } catch (error) {
    if (sqlState(error) === LOCK_NOT_AVAILABLE) throw inProgress()
    throw error
  }
}
