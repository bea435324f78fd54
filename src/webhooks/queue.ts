import { randomUUID } from 'node:crypto'
import type { Database } from '../db/index.js'
import * as q from './queries.js'

/**
 * The delivery queue, as the worker sees it: lease due deliveries, then report each one's
 * attempt. A table leased with `FOR UPDATE SKIP LOCKED` (works the same on PGlite and a server);
 * a queue library could take its place behind this interface.
 */
export interface DeliveryQueue {
  /**
   * Up to `limit` due deliveries, one per endpoint, none for the endpoints in `busy` (what this
   * worker sends now), users taking turns and none holding more than `perUser` slots with `busy`
   * counted; each stays leased until `leaseUntil`.
   */
  lease(now: Date, leaseUntil: Date, limit: number, busy: q.InFlight[], perUser: number): Promise<Lease[]>
  /** Records the attempt and its outcome; false when the lease had expired and another worker took the delivery. */
  finish(lease: Lease, attempt: q.AttemptRecord, outcome: q.Outcome): Promise<boolean>
  /** Hands a delivery back unattempted (shutdown): due at `now` for any worker. */
  release(lease: Lease, now: Date): Promise<void>
}

export interface Lease extends q.LeasedRow {
  token: string
}

export function tableQueue(db: Database): DeliveryQueue {
  return {
    async lease(now, leaseUntil, limit, busy, perUser) {
      const token = randomUUID()
      return (await q.lease(db, now, leaseUntil, limit, busy, perUser, token)).map((row) => ({ ...row, token }))
    },
    finish: (lease, attempt, outcome) => q.finishAttempt(db, lease, lease.token, attempt, outcome),
    release: (lease, now) => q.releaseLease(db, lease, lease.token, now),
  }
}
