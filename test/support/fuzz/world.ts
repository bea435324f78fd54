import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import type { Harness } from '../harness.js'
import { createEntry } from '../entries.js'
import type { SignedIn } from '../users.js'

/** What one user owns, to recognise it in an answer given to someone else. */
export interface Owned {
  entryIds: Set<number>
  webhookIds: Set<number>
  deliveryIds: Set<number>
  /** Unique text only this user's rows carry: texts, categories, URLs, secrets, event ids, the email. */
  secrets: string[]
}

export function nothingOwned(): Owned {
  return { entryIds: new Set(), webhookIds: new Set(), deliveryIds: new Set(), secrets: [] }
}

/** Registers a loopback webhook (nothing is sent: the worker is off) and queues its test event. */
export async function ownWebhook(h: Harness, user: SignedIn, owned: Owned): Promise<{ webhookId: number; deliveryId: number }> {
  const url = `http://127.0.0.1:9/hook-${randomUUID()}`
  const created = await h.request({ method: 'POST', url: '/webhooks', headers: user.auth, payload: { url } })
  assert.equal(created.statusCode, 201, created.body)
  const { id, secret } = created.json()
  const queued = await h.request({ method: 'POST', url: `/webhooks/${id}/test`, headers: user.auth })
  assert.equal(queued.statusCode, 202, queued.body)
  const { deliveryId, eventId } = queued.json()
  owned.webhookIds.add(id)
  owned.deliveryIds.add(deliveryId)
  owned.secrets.push(url, secret, eventId)
  return { webhookId: id, deliveryId }
}

/** Entries whose text and category appear nowhere else, each queued as an event to the user's webhooks. */
export async function ownEntries(h: Harness, user: SignedIn, owned: Owned, count: number): Promise<number[]> {
  const ids: number[] = []
  for (let i = 0; i < count; i++) {
    const text = `secret-text-${randomUUID()}`
    const category = `cat${randomUUID().slice(0, 8)}`
    // Words a search for hostile queries could match, if these rows were ever in reach of another user.
    const entry = await createEntry(h, user, { text: `${text} drop table or and not a work home`, mood: 1 + ((i * 4) % 10), category })
    owned.entryIds.add(entry.id)
    owned.secrets.push(text, category)
    ids.push(entry.id)
  }
  return ids
}

/** Adds the ids and event ids of every delivery of the user's webhooks (the entry events among them). */
export async function collectDeliveries(h: Harness, user: SignedIn, owned: Owned): Promise<void> {
  for (const webhookId of owned.webhookIds) {
    const res = await h.request({ method: 'GET', url: `/webhooks/${webhookId}/deliveries?limit=100`, headers: user.auth })
    assert.equal(res.statusCode, 200, res.body)
    for (const delivery of res.json().items) {
      owned.deliveryIds.add(delivery.id)
      owned.secrets.push(delivery.eventId)
    }
  }
}

/** Walks a JSON value and yields every object with a numeric id. */
function* recordsIn(value: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(value)) for (const v of value) yield* recordsIn(v)
  else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>
    yield record
    for (const v of Object.values(record)) yield* recordsIn(v)
  }
}

/** Nothing `owned` describes is in the answer: not its text, not its ids in a Location, not its rows in the JSON. */
export function assertNothingOf(res: LightMyRequestResponse, owned: Owned, whose: string): void {
  for (const secret of owned.secrets) assert.ok(!res.body.includes(secret), `the answer carries ${whose} ${secret}`)
  for (const header of ['location', 'content-location']) {
    const value = res.headers[header]
    if (typeof value !== 'string') continue
    for (const id of owned.entryIds) assert.ok(!value.endsWith(`/entries/${id}`), `${header} names ${whose} entry`)
    for (const id of owned.webhookIds) assert.ok(!value.endsWith(`/webhooks/${id}`), `${header} names ${whose} webhook`)
  }
  const contentType = String(res.headers['content-type'] ?? '')
  if (!/json/.test(contentType) || res.body.length === 0) return
  // NDJSON (the export): one JSON value per line.
  const values = /ndjson/.test(contentType) ? res.body.split('\n').filter((line) => line.length > 0) : [res.body]
  for (const record of recordsIn(values.map((v) => JSON.parse(v)))) {
    const id = record.id
    if (typeof id === 'number' && 'text' in record) assert.ok(!owned.entryIds.has(id), `the answer carries ${whose} entry ${id}`)
    if (typeof id === 'number' && 'url' in record) assert.ok(!owned.webhookIds.has(id), `the answer carries ${whose} webhook ${id}`)
    if (typeof id === 'number' && 'eventId' in record) assert.ok(!owned.deliveryIds.has(id), `the answer carries ${whose} delivery ${id}`)
    if (typeof record.deliveryId === 'number')
      assert.ok(!owned.deliveryIds.has(record.deliveryId), `the answer carries ${whose} delivery ${record.deliveryId}`)
  }
}

/** A 4xx of the documented problem+json shape. */
export function assertProblem(res: LightMyRequestResponse & { json<T = any>(): T }): void {
  assert.match(String(res.headers['content-type'] ?? ''), /^application\/problem\+json/, 'a 4xx is problem+json')
  const problem = res.json()
  for (const field of ['type', 'title', 'detail', 'instance', 'requestId'])
    assert.equal(typeof problem[field], 'string', `problem.${field}`)
  assert.equal(problem.status, res.statusCode, 'problem.status is the status')
  if (problem.errors !== undefined) {
    assert.ok(Array.isArray(problem.errors), 'problem.errors is an array')
    for (const e of problem.errors) assert.ok(typeof e.field === 'string' && typeof e.message === 'string', 'problem.errors items')
  }
}
