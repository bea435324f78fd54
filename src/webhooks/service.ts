import { randomUUID } from 'node:crypto'
import type { Database } from '../db/index.js'
import { unsafeStringProblem } from '../http/unsafe-string.js'
import { badRequest, conflict, HttpError, notFound } from '../http/errors.js'
import { ENTRY_EVENTS, eventBody } from './events.js'
import * as q from './queries.js'
import {
  DELIVERIES_PAGE,
  type CreateWebhookBody,
  type DeliveriesQuery,
  type DeliveryJson,
  type PatchWebhookBody,
  type WebhookJson,
} from './schemas.js'
import { newSecret } from './signing.js'
import { parseTargetUrl, resolveTarget, TargetRefused, type TargetPolicy } from './target.js'

export interface WebhooksDeps {
  db: Database
  policy: TargetPolicy
  maxPerUser: number
}

/** The old secret keeps signing beside the new one this long after a rotation. */
export const ROTATION_OVERLAP_SECONDS = 24 * 3600
const NOT_FOUND = 'No webhook with this id.'
const DISABLED = 'The webhook is disabled; enable it first.'

const iso = (value: Date | null) => (value === null ? null : value.toISOString())

function toJson(row: q.EndpointRow): WebhookJson {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    failingSince: iso(row.failingSince),
    pausedUntil: iso(row.pausedUntil),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

function deliveryJson(row: q.DeliveryRow): DeliveryJson {
  return {
    id: row.id,
    eventId: row.eventId,
    eventType: row.eventType,
    status: row.status,
    nextAttemptAt: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    attempts: row.attempts,
    createdAt: row.createdAt.toISOString(),
    finishedAt: iso(row.finishedAt),
  }
}

/** What the schema's maxLength allows; the column's CHECK holds the stored (normalised) URL to it too. */
const URL_MAX = 2048

/**
 * The registration-time SSRF check; the same check runs again at every delivery. Returns the URL
 * as stored: normalised (`href`), which percent-encodes and so may be longer than what was sent.
 */
async function checkedUrl(deps: WebhooksDeps, raw: string): Promise<string> {
  const unsafe = unsafeStringProblem(raw)
  if (unsafe) throw badRequest('The webhook URL is not allowed.', [{ field: 'url', message: unsafe }])
  try {
    const url = parseTargetUrl(raw, deps.policy)
    if (url.href.length > URL_MAX) {
      throw new TargetRefused(`must be at most ${URL_MAX} characters once normalised (percent-encoded)`)
    }
    await resolveTarget(url, deps.policy)
    return url.href
  } catch (error) {
    if (error instanceof TargetRefused) throw badRequest('The webhook URL is not allowed.', [{ field: 'url', message: error.message }])
    throw error
  }
}

/** A description is stored as text: NUL and lone surrogates are refused like in an entry. */
function checkedDescription(description: string | undefined): string | undefined {
  const unsafe = description === undefined ? undefined : unsafeStringProblem(description)
  if (unsafe) throw badRequest('The webhook description is not allowed.', [{ field: 'description', message: unsafe }])
  return description
}

export async function createWebhook(
  deps: WebhooksDeps,
  userId: number,
  body: CreateWebhookBody,
): Promise<WebhookJson & { secret: string }> {
  const description = checkedDescription(body.description) ?? ''
  const url = await checkedUrl(deps, body.url)
  const secret = newSecret()
  const events = body.events ?? [...ENTRY_EVENTS]
  const row = await deps.db.transaction((tx) => q.insertEndpoint(tx, userId, { url, events, description, secret }, deps.maxPerUser))
  if (!row) throw conflict(`At most ${deps.maxPerUser} webhooks per account; delete one first.`, 'webhook-limit')
  return { ...toJson(row), secret }
}

export async function listWebhooks(deps: WebhooksDeps, userId: number): Promise<WebhookJson[]> {
  return (await q.listEndpoints(deps.db, userId)).map(toJson)
}

async function endpointOrThrow(deps: WebhooksDeps, userId: number, id: number): Promise<q.EndpointRow> {
  const row = await q.findEndpoint(deps.db, userId, id)
  if (!row) throw notFound(NOT_FOUND)
  return row
}

export async function getWebhook(deps: WebhooksDeps, userId: number, id: number): Promise<WebhookJson> {
  return toJson(await endpointOrThrow(deps, userId, id))
}

export async function patchWebhook(deps: WebhooksDeps, userId: number, id: number, body: PatchWebhookBody): Promise<WebhookJson> {
  const description = checkedDescription(body.description)
  const url = body.url === undefined ? undefined : await checkedUrl(deps, body.url)
  const row = await q.updateEndpoint(deps.db, userId, id, { ...body, url, description })
  if (!row) throw notFound(NOT_FOUND)
  return toJson(row)
}

/** The endpoint and every delivery of it, pending ones included. */
export async function deleteWebhook(deps: WebhooksDeps, userId: number, id: number): Promise<void> {
  if (!(await q.deleteEndpoint(deps.db, userId, id))) throw notFound(NOT_FOUND)
}

export async function rotateSecret(
  deps: WebhooksDeps,
  userId: number,
  id: number,
): Promise<{ secret: string; previousSecretExpiresAt: string }> {
  const secret = newSecret()
  const row = await q.rotateSecret(deps.db, userId, id, secret, ROTATION_OVERLAP_SECONDS)
  if (!row) throw notFound(NOT_FOUND)
  return { secret, previousSecretExpiresAt: new Date(row.updatedAt.getTime() + ROTATION_OVERLAP_SECONDS * 1000).toISOString() }
}

export async function sendTestEvent(deps: WebhooksDeps, userId: number, id: number): Promise<{ deliveryId: number; eventId: string }> {
  const endpoint = await endpointOrThrow(deps, userId, id)
  if (!endpoint.enabled) throw conflict(DISABLED, 'webhook-disabled')
  const eventId = randomUUID()
  const body = eventBody('webhook.test', { webhookId: id, message: 'A test event from moodlog.' })
  const [deliveryId] = await q.enqueue(deps.db, userId, { id: eventId, type: 'webhook.test', body }, id)
  if (deliveryId === undefined) throw notFound(NOT_FOUND)
  return { deliveryId, eventId }
}

export async function listDeliveries(
  deps: WebhooksDeps,
  userId: number,
  id: number,
  query: DeliveriesQuery,
): Promise<{ items: DeliveryJson[]; nextCursor: string | null }> {
  await endpointOrThrow(deps, userId, id)
  const limit = query.limit ?? DELIVERIES_PAGE
  const rows = await q.listDeliveries(deps.db, userId, id, query.cursor === undefined ? null : Number(query.cursor), limit + 1)
  const items = rows.slice(0, limit)
  const nextCursor = rows.length > limit ? String(items.at(-1)!.id) : null
  return { items: items.map(deliveryJson), nextCursor }
}

/**
 * Due again at once with a fresh retry schedule; 409 while an attempt is in flight, and while the
 * endpoint is disabled (nothing would be sent: a 202 would promise a delivery that never comes).
 */
export async function retryDelivery(deps: WebhooksDeps, userId: number, id: number, deliveryId: number): Promise<DeliveryJson> {
  const endpoint = await endpointOrThrow(deps, userId, id)
  if (!endpoint.enabled) throw conflict(DISABLED, 'webhook-disabled')
  const row = await q.requeueDelivery(deps.db, userId, id, deliveryId)
  if (row) return deliveryJson(row)
  if (await q.findDelivery(deps.db, userId, id, deliveryId)) {
    throw new HttpError(409, 'delivery-in-flight', 'Conflict', 'The delivery is being sent right now; retry shortly.', {
      headers: { 'retry-after': '15' },
    })
  }
  throw notFound('No delivery with this id for this webhook.')
}
