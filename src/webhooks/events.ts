import { randomUUID } from 'node:crypto'
import type { Queryable } from '../db/index.js'
import * as q from './queries.js'

export const ENTRY_EVENTS = ['entry.created', 'entry.updated', 'entry.deleted'] as const
export type EntryEventType = (typeof ENTRY_EVENTS)[number]
export type EventType = EntryEventType | 'webhook.test'

/** The body every attempt sends (and signs): `{"type","timestamp","data"}`, fixed when the event happens. */
export function eventBody(type: EventType, data: unknown, at = new Date()): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data })
}

/**
 * Records an entry event for every subscribed endpoint of the user. Call it with the transaction
 * that writes the entry: the deliveries commit or roll back with the change they report.
 * Costs one statement that writes nothing when the user has no endpoint for `type`.
 */
export async function recordEntryEvent(tx: Queryable, userId: number, type: EntryEventType, data: unknown): Promise<void> {
  await q.enqueue(tx, userId, { id: randomUUID(), type, body: eventBody(type, data) })
}
