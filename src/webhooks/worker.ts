import type { FastifyBaseLogger } from 'fastify'
import type { Database } from '../db/index.js'
import * as q from './queries.js'
import type { DeliveryQueue, Lease } from './queue.js'
import { attempt, type AttemptResult, type Transport } from './send.js'
import { signedHeaders } from './signing.js'
import type { TargetPolicy } from './target.js'

/** After the n-th failed attempt, the next one is due this long after (±20 % jitter); after the last, the delivery fails. */
export const RETRY_SCHEDULE_SECONDS = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600]
export const MAX_ATTEMPTS = RETRY_SCHEDULE_SECONDS.length + 1
/** Consecutive failed attempts that pause an endpoint (circuit open); the pause doubles with each failed probe. */
export const BREAKER_THRESHOLD = 5
const BREAKER_PAUSE_MS = 60_000
const BREAKER_MAX_PAUSE_MS = 3600_000
/** An endpoint whose attempts have all failed for this long is disabled. */
export const DISABLE_AFTER_MS = 5 * 24 * 3600_000
/** Finished deliveries are kept this long for GET /webhooks/{id}/deliveries, then pruned. */
const RETENTION_MS = 30 * 24 * 3600_000
const PRUNE_EVERY_MS = 3600_000
/** Rows deleted per statement, and statements per loop turn: a backlog is worked off over turns, between leases. */
const PRUNE_BATCH = 1000
const PRUNE_BATCHES_PER_TURN = 10
/** The longest a receiver's Retry-After holds back a delivery or its endpoint. */
const RETRY_AFTER_MAX_SECONDS = 24 * 3600

export type AttemptResultLabel = 'success' | 'http_error' | 'timeout' | 'network_error' | 'refused'

export interface WorkerMetrics {
  attempted(result: AttemptResultLabel, seconds: number): void
  finished(outcome: 'succeeded' | 'failed'): void
}

export interface WorkerOptions {
  db: Database
  queue: DeliveryQueue
  log: FastifyBaseLogger
  policy: TargetPolicy
  transport: Transport
  concurrency: number
  /** A 2xx must arrive within this (15 s). */
  timeoutMs?: number
  /** How long a lease lasts: longer than any attempt, so only a dead worker's leases expire. */
  leaseMs?: number
  pollMs?: number
  clock?: () => Date
  random?: () => number
  metrics?: WorkerMetrics
  /** False once the instance drains: no new leases. */
  mayLease?: () => boolean
}

/** Delay before the attempt after `failedAttempts` failures, or null when there is none left. */
export function retryDelayMs(failedAttempts: number, random: () => number, retryAfterSeconds: number | null): number | null {
  const base = RETRY_SCHEDULE_SECONDS[failedAttempts - 1]
  if (base === undefined) return null
  const scheduled = base * 1000 * (0.8 + 0.4 * random())
  // The receiver's Retry-After is a lower bound (capped at a day): never sooner than it asked.
  const asked = retryAfterSeconds === null ? 0 : Math.min(retryAfterSeconds, RETRY_AFTER_MAX_SECONDS) * 1000
  return Math.max(scheduled, asked)
}

/**
 * Slots one user's endpoints may hold at once: from 3 slots on, a quarter (at least one) stays for
 * everyone else, so however slow one account's receivers are, other accounts are never all kept
 * waiting. With 1 or 2 slots there is nothing to spare (one user's slow receiver must not block
 * that user's other endpoints), and users only take turns.
 */
export function slotsPerUser(concurrency: number): number {
  return Math.max(Math.min(2, concurrency), concurrency - Math.max(1, Math.floor(concurrency / 4)))
}

function label(result: AttemptResult): AttemptResultLabel {
  if (result.error === null) return 'success'
  if (result.refused) return 'refused'
  if (result.timedOut) return 'timeout'
  return result.statusCode === null ? 'network_error' : 'http_error'
}

/**
 * Delivers queued webhooks: leases due deliveries (at most one per endpoint at a time, so a slow
 * receiver occupies one of `concurrency` slots and never the others), sends them, and records
 * each attempt. At-least-once: an attempt whose outcome was not recorded (crash, lost lease) is
 * sent again with the same `webhook-id`.
 */
export class WebhookWorker {
  /** By endpoint id: the attempt being sent and whose it is. */
  private readonly inFlight = new Map<number, { userId: number; sending: Promise<void> }>()
  private readonly shutdown = new AbortController()
  private running = false
  private stopped = false
  private wake: (() => void) | undefined
  /** Set when a wake-up came while the loop was busy leasing: it looks again instead of sleeping. */
  private wakeMissed = false
  private loop: Promise<void> | undefined
  private lastPrune = 0
  /** The last prune turn stopped at its bound with more to delete: the next turn goes on. */
  private pruneBacklog = false
  private readonly timeoutMs: number
  private readonly leaseMs: number
  private readonly pollMs: number
  private readonly clock: () => Date
  private readonly random: () => number
  private readonly perUser: number

  constructor(private readonly options: WorkerOptions) {
    this.perUser = slotsPerUser(options.concurrency)
    this.timeoutMs = options.timeoutMs ?? 15_000
    this.leaseMs = options.leaseMs ?? this.timeoutMs + 45_000
    this.pollMs = options.pollMs ?? 1000
    this.clock = options.clock ?? (() => new Date())
    this.random = options.random ?? Math.random
  }

  /** Deliveries being sent right now. */
  get busy(): number {
    return this.inFlight.size
  }

  start(): void {
    if (this.running || this.stopped) return
    this.running = true
    this.loop = this.run()
  }

  /** Wakes the loop now instead of at the next poll (a delivery was just queued). */
  nudge(): void {
    this.signal()
  }

  private signal(): void {
    if (this.wake) this.wake()
    else this.wakeMissed = true
  }

  /**
   * Leases what is due now (as many as there are free slots) and starts sending; resolves with
   * the number leased once those attempts are recorded. Tests drive the worker with it.
   */
  async runOnce(): Promise<number> {
    const leased = await this.leaseBatch()
    await Promise.all(leased.map((lease) => this.inFlight.get(lease.endpointId)?.sending))
    return leased.length
  }

  /**
   * Stops leasing; waits up to `graceMs` for attempts in flight, then aborts the rest and hands
   * their deliveries back (or, if the database is gone, leaves their leases to expire).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true
    this.running = false
    this.wake?.()
    await this.loop
    const all = Promise.all([...this.inFlight.values()].map((f) => f.sending))
    let timer: NodeJS.Timeout | undefined
    const finished = await Promise.race([all.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)))])
    clearTimeout(timer)
    if (!finished) {
      this.options.log.warn({ inFlight: this.inFlight.size }, 'webhook deliveries still in flight at shutdown; interrupted')
      this.shutdown.abort()
      await all
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let leased = 0
      try {
        leased = (await this.leaseBatch()).length
        await this.maybePrune()
      } catch (error) {
        this.options.log.error({ err: error }, 'webhook worker could not lease deliveries')
      }
      if (!this.running) break
      // A full batch suggests more is due: look again as soon as a slot frees; otherwise poll.
      const free = this.options.concurrency - this.inFlight.size
      if (leased > 0 && free > 0) continue
      // A slot freed (or an event was committed) while this turn was leasing: that is work now.
      if (this.wakeMissed) {
        this.wakeMissed = false
        continue
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wake = undefined
    }
  }

  private async leaseBatch(): Promise<Lease[]> {
    const free = this.options.concurrency - this.inFlight.size
    if (free <= 0 || this.stopped || this.options.mayLease?.() === false) return []
    const now = this.clock()
    const busy = [...this.inFlight].map(([endpointId, { userId }]) => ({ userId, endpointId }))
    const leased = await this.options.queue.lease(now, new Date(now.getTime() + this.leaseMs), free, busy, this.perUser)
    for (const lease of leased) {
      const sending = this.deliver(lease)
        .catch((error: unknown) => {
          // The outcome could not be recorded: the lease expires and another attempt follows.
          this.options.log.error({ err: error, endpointId: lease.endpointId, deliveryId: lease.id }, 'webhook attempt not recorded')
        })
        .finally(() => {
          this.inFlight.delete(lease.endpointId)
          this.signal()
        })
      this.inFlight.set(lease.endpointId, { userId: lease.userId, sending })
    }
    return leased
  }

  private secretsOf(lease: Lease, now: Date): string[] {
    const previousValid = lease.previousSecret && lease.previousSecretExpiresAt && lease.previousSecretExpiresAt > now
    return previousValid ? [lease.secret, lease.previousSecret!] : [lease.secret]
  }

  private async deliver(lease: Lease): Promise<void> {
    const { db, log, metrics } = this.options
    const now = this.clock()
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'moodlog-webhooks/1',
      ...signedHeaders(this.secretsOf(lease, now), lease.eventId, Math.floor(now.getTime() / 1000), lease.body),
    }
    const started = performance.now()
    const result = await attempt(
      this.options.policy,
      this.options.transport,
      lease.url,
      headers,
      lease.body,
      this.timeoutMs,
      this.shutdown.signal,
      now,
    )
    const durationMs = Math.round(performance.now() - started)
    if (this.shutdown.signal.aborted && result.error !== null) {
      await this.options.queue.release(lease, this.clock())
      return
    }
    metrics?.attempted(label(result), durationMs / 1000)
    const record: q.AttemptRecord = {
      at: now.toISOString(),
      durationMs,
      statusCode: result.statusCode,
      error: result.error,
      response: result.response,
    }
    const finishedAt = this.clock()
    if (result.error === null) {
      if (await this.options.queue.finish(lease, record, { status: 'succeeded', at: finishedAt })) metrics?.finished('succeeded')
      await q.endpointSucceeded(db, lease.userId, lease.endpointId)
      return
    }

    const gone = result.statusCode === 410
    const delay = gone ? null : retryDelayMs(lease.attemptCount, this.random, result.retryAfterSeconds)
    const outcome: q.Outcome =
      delay === null ? { status: 'failed', at: finishedAt } : { status: 'pending', nextAttemptAt: new Date(finishedAt.getTime() + delay) }
    log.warn(
      {
        endpointId: lease.endpointId,
        deliveryId: lease.id,
        eventId: lease.eventId,
        attempt: lease.attemptCount,
        statusCode: result.statusCode,
        error: result.error,
        nextAttemptAt: outcome.status === 'pending' ? outcome.nextAttemptAt.toISOString() : null,
      },
      'webhook attempt failed',
    )
    if ((await this.options.queue.finish(lease, record, outcome)) && outcome.status === 'failed') metrics?.finished('failed')
    if (gone) {
      await q.disableEndpoint(db, lease.userId, lease.endpointId, `The receiver answered 410 Gone at ${finishedAt.toISOString()}.`)
      log.warn({ endpointId: lease.endpointId }, 'webhook endpoint disabled: 410 Gone')
      return
    }
    await this.endpointFailed(lease, result, finishedAt)
    if (result.retryAfterSeconds !== null && result.retryAfterSeconds > 0) {
      // Retry-After speaks for the receiver, not for one delivery: none of the endpoint's others
      // goes out before it either (each would only burn an attempt on another 429 or 503).
      const seconds = Math.min(result.retryAfterSeconds, RETRY_AFTER_MAX_SECONDS)
      await q.pauseEndpoint(db, lease.userId, lease.endpointId, new Date(finishedAt.getTime() + seconds * 1000))
    }
  }

  /** The breaker: pause after consecutive failures, disable after days of nothing but failures. */
  private async endpointFailed(lease: Lease, result: AttemptResult, now: Date): Promise<void> {
    const { db, log } = this.options
    const state = await q.endpointFailed(db, lease.userId, lease.endpointId, now)
    if (!state) return
    if (now.getTime() - state.failingSince.getTime() >= DISABLE_AFTER_MS) {
      const reason = `Every attempt has failed since ${state.failingSince.toISOString()} (last: ${result.error}).`
      await q.disableEndpoint(db, lease.userId, lease.endpointId, reason)
      log.warn({ endpointId: lease.endpointId, failingSince: state.failingSince }, 'webhook endpoint disabled: failing for 5 days')
      return
    }
    if (state.consecutiveFailures >= BREAKER_THRESHOLD) {
      const pauseMs = Math.min(BREAKER_MAX_PAUSE_MS, BREAKER_PAUSE_MS * 2 ** (state.consecutiveFailures - BREAKER_THRESHOLD))
      await q.pauseEndpoint(db, lease.userId, lease.endpointId, new Date(now.getTime() + pauseMs))
    }
  }

  /**
   * Hourly, deletes finished deliveries past the retention period: batches while they come back
   * full, up to a bound per turn so that leasing is never held up; a backlog beyond the bound
   * carries on at the next turn instead of an hour later, so retention holds at any rate.
   */
  private async maybePrune(): Promise<void> {
    const now = this.clock().getTime()
    if (!this.pruneBacklog && now - this.lastPrune < PRUNE_EVERY_MS) return
    this.lastPrune = now
    let removed = 0
    let full = true
    for (let batch = 0; full && batch < PRUNE_BATCHES_PER_TURN && this.running; batch++) {
      const n = await q.pruneFinished(this.options.db, new Date(now - RETENTION_MS), PRUNE_BATCH)
      removed += n
      full = n === PRUNE_BATCH
    }
    this.pruneBacklog = full
    if (removed > 0) this.options.log.info({ removed, more: full }, 'old webhook deliveries pruned')
  }
}
