import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { badRequest } from '../http/errors.js'
import type { EntryFilters } from './queries.js'

/** A place in the newest-first order: the exact `occurred_at` (microseconds, as SQL text) and the id. */
export interface Position {
  /** `to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z" BC')`: exact, and readable back by `::timestamptz`. */
  occurredAt: string
  id: number
}

/** The filters a list request was made with; a cursor only continues the listing it came from. */
export type ListFilters = EntryFilters

const VERSION = 1
const POSITION_KEY = /^\d{4,6}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (AD|BC)$/

const invalidCursor = () =>
  badRequest('The cursor is not valid: pass `nextCursor` from a previous page unchanged.', [
    { field: 'query.cursor', message: 'is not a valid cursor' },
  ])

/**
 * Opaque, tamper-evident cursors: `base64url(JSON position).base64url(HMAC-SHA256)`. The MAC covers
 * the user id, so a cursor is worthless to anyone else, and the payload carries a digest of the
 * filters, so a cursor sent with other filters is refused (400) instead of silently mixing two
 * listings. The key is derived from the JWT key (HKDF, own label): rotating that key invalidates
 * outstanding cursors, which clients then see as 400 and restart from the first page.
 */
export class CursorCodec {
  private readonly key: Buffer

  constructor(secret: Uint8Array) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'moodlog', 'entries-cursor-v1', 32))
  }

  encode(userId: number, filters: ListFilters, position: Position): string {
    const payload = Buffer.from(JSON.stringify({ v: VERSION, t: position.occurredAt, i: position.id, f: filterDigest(filters) })).toString(
      'base64url',
    )
    return `${payload}.${this.sign(userId, payload).toString('base64url')}`
  }

  /** The position a cursor points at; 400 when it was altered, forged, another user's, or made for other filters. */
  decode(userId: number, filters: ListFilters, cursor: string): Position {
    const [payload, mac, ...rest] = cursor.split('.')
    if (!payload || !mac || rest.length > 0) throw invalidCursor()
    const expected = this.sign(userId, payload)
    const given = Buffer.from(mac, 'base64url')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidCursor()

    let data: { v?: unknown; t?: unknown; i?: unknown; f?: unknown }
    try {
      data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    } catch {
      throw invalidCursor()
    }
    // Signed by us, so these hold unless the format changed; checked anyway rather than trusted into SQL.
    if (data.v !== VERSION || typeof data.t !== 'string' || !POSITION_KEY.test(data.t)) throw invalidCursor()
    if (typeof data.i !== 'number' || !Number.isSafeInteger(data.i) || data.i < 1) throw invalidCursor()
    if (data.f !== filterDigest(filters)) {
      throw badRequest('The cursor belongs to a listing with other filters; send the same filters as the request that returned it.', [
        { field: 'query.cursor', message: 'was issued for different filters' },
      ])
    }
    return { occurredAt: data.t, id: data.i }
  }

  private sign(userId: number, payload: string): Buffer {
    return createHmac('sha256', this.key).update(`${userId}.${payload}`).digest()
  }
}

function filterDigest(f: ListFilters): string {
  const canonical = JSON.stringify([f.category ?? null, f.moodMin ?? null, f.moodMax ?? null, f.from ?? null, f.to ?? null, f.q ?? null])
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22)
}
