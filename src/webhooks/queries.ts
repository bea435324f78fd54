import type { Queryable } from '../db/index.js'
import type { EntryEventType } from './events.js'

/** Every webhook statement. Times the worker compares against come in as parameters (its clock), never `now()`. */

export interface EndpointRow {
  id: number
  url: string
  description: string
  events: string[]
  enabled: boolean
  disabledReason: string | null
  createdAt: Date
  updatedAt: Date
  pausedUntil: Date | null
  failingSince: Date | null
  consecutiveFailures: number
}

export interface EndpointSecrets {
  secret: string
  previousSecret: string | null
  previousSecretExpiresAt: Date | null
}

const ENDPOINT = `id, url, description, events, enabled, disabled_reason as "disabledReason", created_at as "createdAt",
  updated_at as "updatedAt", paused_until as "pausedUntil", failing_since as "failingSince",
  consecutive_failures as "consecutiveFailures"`

export interface NewEndpoint {
  url: string
  description: string
  events: string[]
  secret: string
}

/** Inserts unless the user already has `max` endpoints (checked under a lock on the user's row). */
export async function insertEndpoint(db: Queryable, userId: number, input: NewEndpoint, max: number): Promise<EndpointRow | undefined> {
  await db.query('select 1 from users where id = $1 for update', [userId])
  const rows = await db.query<EndpointRow>(
    `insert into webhook_endpoints (user_id, url, description, events, secret)
     select $1, $2, $3, $4::text[], $5
      where (select count(*) from webhook_endpoints where user_id = $1) < $6
     returning ${ENDPOINT}`,
    [userId, input.url, input.description, input.events, input.secret, max],
  )
  return rows[0]
}

export async function listEndpoints(db: Queryable, userId: number): Promise<EndpointRow[]> {
  return db.query<EndpointRow>(`select ${ENDPOINT} from webhook_endpoints where user_id = $1 order by id`, [userId])
}

export async function findEndpoint(db: Queryable, userId: number, id: number): Promise<EndpointRow | undefined> {
  const rows = await db.query<EndpointRow>(`select ${ENDPOINT} from webhook_endpoints where user_id = $1 and id = $2`, [userId, id])
  return rows[0]
}

export interface EndpointPatch {
  url?: string
  description?: string
  events?: string[]
  enabled?: boolean
}

/**
 * Enabling again clears the reason and the breaker: the owner says the receiver is back. A new URL
 * clears the breaker too: the failures it counted were another receiver's.
 */
export async function updateEndpoint(db: Queryable, userId: number, id: number, patch: EndpointPatch): Promise<EndpointRow | undefined> {
  const rows = await db.query<EndpointRow>(
    `update webhook_endpoints
        set url = coalesce($3::text, url),
            description = coalesce($4::text, description),
            events = coalesce($5::text[], events),
            enabled = coalesce($6::boolean, enabled),
            disabled_reason = case when $6::boolean then null else disabled_reason end,
            consecutive_failures = case when $6::boolean or $3::text <> url then 0 else consecutive_failures end,
            failing_since = case when $6::boolean or $3::text <> url then null else failing_since end,
            paused_until = case when $6::boolean or $3::text <> url then null else paused_until end,
            updated_at = now()
      where user_id = $1 and id = $2
      returning ${ENDPOINT}`,
    [userId, id, patch.url ?? null, patch.description ?? null, patch.events ?? null, patch.enabled ?? null],
  )
  return rows[0]
}

/** Its deliveries go with it (ON DELETE CASCADE). */
export async function deleteEndpoint(db: Queryable, userId: number, id: number): Promise<boolean> {
  const rows = await db.query('delete from webhook_endpoints where user_id = $1 and id = $2 returning id', [userId, id])
  return rows.length > 0
}

/** The current secret becomes the previous one, still signing until `overlapSeconds` from now. */
export async function rotateSecret(
  db: Queryable,
  userId: number,
  id: number,
  secret: string,
  overlapSeconds: number,
): Promise<EndpointRow | undefined> {
  const rows = await db.query<EndpointRow>(
    `update webhook_endpoints
        set previous_secret = secret, secret = $3,
            previous_secret_expires_at = now() + make_interval(secs => $4), updated_at = now()
      where user_id = $1 and id = $2
      returning ${ENDPOINT}`,
    [userId, id, secret, overlapSeconds],
  )
  return rows[0]
}

export interface NewEvent {
  id: string
  type: string
  body: string
}

/**
 * One pending delivery per enabled endpoint of the user subscribed to the event type (none, and no
 * write, when there is none). `endpointId`: to that one endpoint, whatever it subscribes to (test events).
 */
export async function enqueue(db: Queryable, userId: number, event: NewEvent, endpointId: number | null = null): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `insert into webhook_deliveries (user_id, endpoint_id, event_id, event_type, body)
     select user_id, id, $2::uuid, $3, $4
       from webhook_endpoints
      where user_id = $1 and enabled and ($5::int8 is null and $3 = any(events) or id = $5::int8)
     returning id`,
    [userId, event.id, event.type, event.body, endpointId],
  )
  return rows.map((row) => row.id)
}

/**
 * SQL that queues an entry event inside the statement that writes the entry (a data-modifying CTE
 * is atomic on its own, so the write needs no transaction and pipelines like any one statement):
 * one delivery per enabled endpoint of user `userParam` subscribed to `type`, for the row of CTE
 * `source` (exactly the entry's API fields). Postgres renders the body as `eventBody` does:
 * `{"type","timestamp","data"}` with no spaces, strings escaped as `JSON.stringify` escapes them
 * (`row_to_json`, as the export relies on), the timestamp the write's own `now()` with milliseconds.
 */
export function queueEntryEvent(type: EntryEventType, source: string, userParam: string, eventIdParam: string): string {
  return `insert into webhook_deliveries (user_id, endpoint_id, event_id, event_type, body)
    select w.user_id, w.id, ${eventIdParam}::uuid, '${type}', row_to_json(event)::text
      from webhook_endpoints w
     cross join (select '${type}'::text as "type",
                        to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "timestamp",
                        row_to_json(s) as "data"
                   from ${source} s) event
     where w.user_id = ${userParam} and w.enabled and '${type}' = any(w.events)`
}

/** A leased delivery with what is needed to send it. */
export interface LeasedRow {
  userId: number
  id: number
  endpointId: number
  eventId: string
  eventType: string
  body: string
  attemptCount: number
  url: string
  secret: string
  previousSecret: string | null
  previousSecretExpiresAt: Date | null
}

/** A delivery a worker is sending right now. */
export interface InFlight {
  userId: number
  endpointId: number
}

/**
 * Leases up to `limit` due deliveries, at most one per endpoint and none of the endpoints in
 * `busy` (those this worker is already sending to), so one slow receiver holds one slot at most.
 * Users take turns: each user's first due endpoint comes before anyone's second, counting what the
 * worker already sends for them, and no user gets more than `perUser` slots in all, so one
 * account's ten slow receivers never hold every slot while another account's deliveries wait.
 * The lease pushes `next_attempt_at` to `leaseUntil`: if the worker dies, the row is due again then.
 * Rows another worker is leasing right now are skipped, never waited for. Only endpoints that can
 * be sent to (enabled, not paused) are counted, so however many disabled or paused endpoints have
 * due rows, they never crowd out the others; within a turn the endpoint waiting longest goes first.
 */
export async function lease(
  db: Queryable,
  now: Date,
  leaseUntil: Date,
  limit: number,
  busy: InFlight[],
  perUser: number,
  token: string,
): Promise<LeasedRow[]> {
  return db.query<LeasedRow>(
    `with busy as (
       select user_id, endpoint_id from unnest($4::int8[], $5::int8[]) as b(user_id, endpoint_id)
     ), busy_users as (
       select user_id, count(*) as n from busy group by user_id
     ), due_endpoints as (
       select d.user_id, d.endpoint_id, min(d.next_attempt_at) as due
         from webhook_deliveries d
         join webhook_endpoints e on e.user_id = d.user_id and e.id = d.endpoint_id
          and e.enabled and (e.paused_until is null or e.paused_until <= $1::text::timestamptz)
        where d.status = 'pending' and d.next_attempt_at <= $1::text::timestamptz
          and d.endpoint_id not in (select endpoint_id from busy)
          and d.user_id not in (select user_id from busy_users where n >= $6)
        group by d.user_id, d.endpoint_id
        order by due
        limit 500
     ), turns as (
       select de.user_id, de.endpoint_id, de.due,
              coalesce(bu.n, 0) + row_number() over (partition by de.user_id order by de.due, de.endpoint_id) as turn
         from due_endpoints de
         left join busy_users bu on bu.user_id = de.user_id
     ), picked as (
       select p.user_id, p.id
         from turns t
        cross join lateral (
          select d.user_id, d.id
            from webhook_deliveries d
           where d.user_id = t.user_id and d.endpoint_id = t.endpoint_id
             and d.status = 'pending' and d.next_attempt_at <= $1::text::timestamptz
           order by d.next_attempt_at, d.id
           limit 1
             for update skip locked
        ) p
        where t.turn <= $6
        order by t.turn, t.due
        limit $3
     )
     update webhook_deliveries d
        set next_attempt_at = $2::text::timestamptz, lease_token = $7::uuid, attempt_count = d.attempt_count + 1
       from picked, webhook_endpoints e
      where d.user_id = picked.user_id and d.id = picked.id and e.user_id = d.user_id and e.id = d.endpoint_id
      returning d.user_id as "userId", d.id, d.endpoint_id as "endpointId", d.event_id as "eventId", d.event_type as "eventType",
                d.body, d.attempt_count as "attemptCount", e.url, e.secret, e.previous_secret as "previousSecret",
                e.previous_secret_expires_at as "previousSecretExpiresAt"`,
    [now.toISOString(), leaseUntil.toISOString(), limit, busy.map((b) => b.userId), busy.map((b) => b.endpointId), perUser, token],
  )
}

export interface AttemptRecord {
  at: string
  durationMs: number
  statusCode: number | null
  error: string | null
  response: string | null
}

export type Outcome = { status: 'succeeded' | 'failed'; at: Date } | { status: 'pending'; nextAttemptAt: Date }

/**
 * A receiver's answer and an error message are anyone's text: jsonb refuses U+0000 and a lone
 * surrogate would be stored altered, so both become U+FFFD. Unstored, the attempt would be
 * lost and the delivery sent again at every lease.
 */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what jsonb refuses
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

function storable(text: string | null): string | null {
  return text === null ? null : text.replace(UNSTORABLE, '\uFFFD')
}

function storableAttempt(attempt: AttemptRecord): AttemptRecord {
  return { ...attempt, error: storable(attempt.error), response: storable(attempt.response) }
}

/** Records an attempt and its consequence; false when the lease was lost (expired and taken by another worker). */
export async function finishAttempt(
  db: Queryable,
  row: Pick<LeasedRow, 'userId' | 'id'>,
  token: string,
  attempt: AttemptRecord,
  outcome: Outcome,
): Promise<boolean> {
  const pending = outcome.status === 'pending'
  const rows = await db.query(
    `update webhook_deliveries
        set status = $4, lease_token = null, attempts = attempts || $5::text::jsonb,
            next_attempt_at = coalesce($6::text::timestamptz, next_attempt_at),
            finished_at = $7::text::timestamptz
      where user_id = $1 and id = $2 and lease_token = $3::uuid
      returning id`,
    [
      row.userId,
      row.id,
      token,
      outcome.status,
      JSON.stringify([storableAttempt(attempt)]),
      pending ? outcome.nextAttemptAt.toISOString() : null,
      pending ? null : outcome.at.toISOString(),
    ],
  )
  return rows.length > 0
}

/** Gives a leased delivery back without an attempt (shutdown): due at once for another worker. */
export async function releaseLease(db: Queryable, row: Pick<LeasedRow, 'userId' | 'id'>, token: string, now: Date): Promise<void> {
  await db.query(
    `update webhook_deliveries set lease_token = null, next_attempt_at = $4::text::timestamptz, attempt_count = attempt_count - 1
      where user_id = $1 and id = $2 and lease_token = $3::uuid`,
    [row.userId, row.id, token, now.toISOString()],
  )
}

/** A success closes the breaker (no write when it was closed already). */
export async function endpointSucceeded(db: Queryable, userId: number, endpointId: number): Promise<void> {
  await db.query(
    `update webhook_endpoints set consecutive_failures = 0, failing_since = null, paused_until = null
      where user_id = $1 and id = $2 and (consecutive_failures > 0 or failing_since is not null or paused_until is not null)`,
    [userId, endpointId],
  )
}

export interface BreakerState {
  consecutiveFailures: number
  failingSince: Date
}

/** Counts a failed attempt; the caller decides from the result whether to pause or disable. */
export async function endpointFailed(db: Queryable, userId: number, endpointId: number, now: Date): Promise<BreakerState | undefined> {
  const rows = await db.query<BreakerState>(
    `update webhook_endpoints
        set consecutive_failures = consecutive_failures + 1, failing_since = coalesce(failing_since, $3::text::timestamptz)
      where user_id = $1 and id = $2
      returning consecutive_failures as "consecutiveFailures", failing_since as "failingSince"`,
    [userId, endpointId, now.toISOString()],
  )
  return rows[0]
}

/** No lease for the endpoint before `until`; a pause that ends later (a receiver's Retry-After, the breaker) is kept. */
export async function pauseEndpoint(db: Queryable, userId: number, endpointId: number, until: Date): Promise<void> {
  const sql = `update webhook_endpoints set paused_until = greatest(paused_until, $3::text::timestamptz)
                where user_id = $1 and id = $2 and enabled`
  await db.query(sql, [userId, endpointId, until.toISOString()])
}

export async function disableEndpoint(db: Queryable, userId: number, endpointId: number, reason: string): Promise<void> {
  await db.query(
    `update webhook_endpoints set enabled = false, disabled_reason = $3, paused_until = null, updated_at = now()
      where user_id = $1 and id = $2 and enabled`,
    [userId, endpointId, reason],
  )
}

export interface DeliveryRow {
  id: number
  eventId: string
  eventType: string
  status: 'pending' | 'succeeded' | 'failed'
  attemptCount: number
  nextAttemptAt: Date
  inFlight: boolean
  attempts: AttemptRecord[]
  createdAt: Date
  finishedAt: Date | null
}

/**
 * In flight: leased, and the lease (`next_attempt_at` while leased) has not expired. An expired
 * lease belongs to a worker that died: nobody is sending it, and the next lease takes it anyway.
 */
const IN_FLIGHT = 'lease_token is not null and next_attempt_at > now()'

const DELIVERY = `id, event_id as "eventId", event_type as "eventType", status, attempt_count as "attemptCount",
  next_attempt_at as "nextAttemptAt", ${IN_FLIGHT} as "inFlight", attempts, created_at as "createdAt",
  finished_at as "finishedAt"`

/** Newest first, strictly before `beforeId` when given. */
export async function listDeliveries(
  db: Queryable,
  userId: number,
  endpointId: number,
  beforeId: number | null,
  limit: number,
): Promise<DeliveryRow[]> {
  return db.query<DeliveryRow>(
    `select ${DELIVERY} from webhook_deliveries
      where user_id = $1 and endpoint_id = $2 and ($3::int8 is null or id < $3::int8)
      order by id desc limit $4`,
    [userId, endpointId, beforeId, limit],
  )
}

export async function findDelivery(db: Queryable, userId: number, endpointId: number, id: number): Promise<DeliveryRow | undefined> {
  const rows = await db.query<DeliveryRow>(
    `select ${DELIVERY} from webhook_deliveries where user_id = $1 and endpoint_id = $2 and id = $3`,
    [userId, endpointId, id],
  )
  return rows[0]
}

/**
 * Due now with a fresh schedule, unless a worker is sending it at this moment (undefined then).
 * An expired lease is dropped: should its worker come back, it can no longer record an outcome.
 */
export async function requeueDelivery(db: Queryable, userId: number, endpointId: number, id: number): Promise<DeliveryRow | undefined> {
  const rows = await db.query<DeliveryRow>(
    `update webhook_deliveries
        set status = 'pending', attempt_count = 0, next_attempt_at = now(), finished_at = null, lease_token = null
      where user_id = $1 and endpoint_id = $2 and id = $3 and not (${IN_FLIGHT})
      returning ${DELIVERY}`,
    [userId, endpointId, id],
  )
  return rows[0]
}

export interface QueueStats {
  pending: number
  oldest: Date | null
}

/**
 * Pending deliveries of enabled endpoints: those of a disabled one wait for their owner to enable
 * it again, which is nothing an operator can act on (and would keep an age alert firing forever).
 */
export async function queueStats(db: Queryable): Promise<QueueStats> {
  const rows = await db.query<QueueStats>(
    `select count(*)::int4 as pending, min(d.created_at) as oldest
       from webhook_deliveries d
       join webhook_endpoints e on e.user_id = d.user_id and e.id = d.endpoint_id and e.enabled
      where d.status = 'pending'`,
  )
  return rows[0] ?? { pending: 0, oldest: null }
}

/** Finished deliveries past the retention period, a bounded batch at a time. */
export async function pruneFinished(db: Queryable, before: Date, batch: number): Promise<number> {
  const rows = await db.query(
    `delete from webhook_deliveries
      where (user_id, id) in (
        select user_id, id from webhook_deliveries
         where status <> 'pending' and finished_at < $1::text::timestamptz
         limit $2 for update skip locked)
      returning id`,
    [before.toISOString(), batch],
  )
  return rows.length
}
