import { randomUUID } from 'node:crypto'
import type { UserCache } from '../cache/user-cache.js'
import type { Database } from '../db/index.js'
import { badRequest, notFound, preconditionFailed, type FieldError } from '../http/errors.js'
import { requestHash, runIdempotent } from '../idempotency/idempotency.js'
import { recordEntryEvent } from '../webhooks/events.js'
import type { CursorCodec, ListFilters, Position } from './cursor.js'
import { writeCondition, type WriteCondition } from './preconditions.js'
import * as q from './queries.js'
import { checkCategory, checkEntry, checkEntryChange, checkInstant, checkSafeString, instantMillis, type Checked } from './rules.js'
import { DEFAULT_LIMIT, type CreateEntryBody, type EntryJson, type EntryPage, type ListQuery, type PatchEntryBody } from './schemas.js'

export interface EntriesDeps {
  db: Database
  cursors: CursorCodec
  /** Per-user read cache (list pages, list counts); every write here invalidates the user's generation. */
  cache: UserCache
}

const NOT_FOUND = 'No entry with this id.'

/** Exactly the entry fields (a listed row also carries its position): the same JSON whether just created or replayed. */
export function toJson(row: q.EntryRow): EntryJson {
  const { id, text, mood, category, occurredAt, createdAt, updatedAt, version } = row
  return { id, text, mood, category, occurredAt, createdAt, updatedAt, version }
}

function fail(errors: FieldError[], where: string): void {
  if (errors.length > 0) throw badRequest(`The ${where} did not pass validation.`, errors)
}

/** What the shared entry rules (./rules.ts) made of a part of the request, or its 400. */
function valid<T>(checked: Checked<T>, where: string): T {
  if (checked.errors !== undefined) throw badRequest(`The ${where} did not pass validation.`, checked.errors)
  return checked.value
}

export async function createEntry(
  deps: EntriesDeps,
  userId: number,
  body: CreateEntryBody,
  idempotencyKey?: string,
): Promise<{ entry: EntryJson; replayed: boolean }> {
  const input = valid(checkEntry(body), 'body')
  if (idempotencyKey === undefined) {
    const entry = toJson(await q.insertEntryWithEvent(deps.db, userId, input, randomUUID()))
    await deps.cache.invalidate(userId)
    return { entry, replayed: false }
  }
  const result = await runIdempotent(deps.db, userId, idempotencyKey, requestHash('POST /entries', body), 201, async (tx) =>
    toJson(await q.insertEntryWithEvent(tx, userId, input, randomUUID())),
  )
  if (!result.replayed) await deps.cache.invalidate(userId)
  return { entry: result.body, replayed: result.replayed }
}

export async function getEntry(deps: EntriesDeps, userId: number, id: number): Promise<EntryJson> {
  const row = await q.findEntry(deps.db.points, userId, id)
  if (!row) throw notFound(NOT_FOUND)
  return toJson(row)
}

/** `If-None-Match: *` on a write: 412 whenever the entry exists (nothing is written either way). */
async function refuseAnyVersion(deps: EntriesDeps, userId: number, id: number, versions: WriteCondition): Promise<void> {
  if (!versions?.refusesAny) return
  throw (await q.entryExists(deps.db.points, userId, id)) ? preconditionFailed() : notFound(NOT_FOUND)
}

/** Partial update; with If-Match, only from the version(s) it names, with If-None-Match, not from those (else 412). */
export async function patchEntry(
  deps: EntriesDeps,
  userId: number,
  id: number,
  body: PatchEntryBody,
  ifMatch?: string,
  ifNoneMatch?: string,
): Promise<EntryJson> {
  const versions = writeCondition(ifMatch, ifNoneMatch, id)
  await refuseAnyVersion(deps, userId, id, versions)
  const input = valid(checkEntryChange(body), 'body')
  const entry = await deps.db.transaction(async (tx) => {
    const row = await q.updateEntry(tx, userId, id, input, versions)
    const updated = row && toJson(row)
    if (updated) await recordEntryEvent(tx, userId, 'entry.updated', updated)
    return updated
  })
  if (entry) {
    await deps.cache.invalidate(userId)
    return entry
  }
  // The write already failed atomically; this read only chooses which error to report.
  if (versions !== null && (await q.entryExists(deps.db.points, userId, id))) throw preconditionFailed()
  throw notFound(NOT_FOUND)
}

export async function deleteEntry(deps: EntriesDeps, userId: number, id: number, ifMatch?: string, ifNoneMatch?: string): Promise<void> {
  const versions = writeCondition(ifMatch, ifNoneMatch, id)
  await refuseAnyVersion(deps, userId, id, versions)
  const deleted = await deps.db.transaction(async (tx) => {
    const gone = await q.deleteEntry(tx, userId, id, versions)
    if (gone) await recordEntryEvent(tx, userId, 'entry.deleted', { id })
    return gone
  })
  if (deleted) {
    await deps.cache.invalidate(userId)
    return
  }
  if (versions !== null && (await q.entryExists(deps.db.points, userId, id))) throw preconditionFailed()
  throw notFound(NOT_FOUND)
}

/** Checks what the schema cannot (text safety, ranges between parameters) and normalises the filters. */
function listFilters(query: ListQuery): ListFilters {
  const errors: FieldError[] = []
  const take = <T>(checked: Checked<T>): T | undefined => {
    if (checked.errors) errors.push(...checked.errors)
    return checked.value
  }
  const category = query.category === undefined ? undefined : take(checkCategory(query.category, 'query.category'))
  const text = query.q === undefined ? undefined : take(checkSafeString(query.q, 'query.q'))
  const from = query.from === undefined ? undefined : take(checkInstant(query.from, 'query.from'))
  const to = query.to === undefined ? undefined : take(checkInstant(query.to, 'query.to'))
  if (query.moodMin !== undefined && query.moodMax !== undefined && query.moodMin > query.moodMax) {
    errors.push({ field: 'query.moodMin', message: 'must not be greater than moodMax' })
  }
  if (from !== undefined && to !== undefined && instantMillis(from) > instantMillis(to)) {
    errors.push({ field: 'query.from', message: 'must not be later than to' })
  }
  if (query.cursor !== undefined && query.page !== undefined) {
    errors.push({ field: 'query.page', message: 'cannot be combined with cursor' })
  }
  fail(errors, 'query parameters')
  const { moodMin, moodMax } = query
  return { category, moodMin, moodMax, from, to, q: text }
}

type PageQuery = ListQuery & { limit: number }

/** A list request that passed validation, with what its page depends on (the cache key's params). */
export interface ListRequest {
  query: PageQuery
  filters: ListFilters
  after: Position | undefined
  key: unknown
}

/**
 * Validates a list request (400 otherwise) before anything is read or cached, so only good answers
 * are cached; any write of the user's data retires them.
 */
export function checkListRequest(deps: EntriesDeps, userId: number, request: ListQuery): ListRequest {
  const query: PageQuery = { ...request, limit: request.limit ?? DEFAULT_LIMIT }
  const filters = listFilters(query)
  const after = query.cursor === undefined ? undefined : deps.cursors.decode(userId, filters, query.cursor)
  return { query, filters, after, key: [filters, query.cursor ?? null, query.page ?? null, query.limit] }
}

/**
 * One page, newest first. Keyset (`cursor`) pages cost the same at any depth; `page` pages use
 * OFFSET, for clients of the original API. Both report `total` and offer `nextCursor`.
 */
export async function listEntries(deps: EntriesDeps, userId: number, list: ListRequest): Promise<EntryPage> {
  const { query, filters } = list
  // The count is cached apart from the pages, so walking a long listing counts once, not once per page.
  const [slice, total] = await Promise.all([
    loadSlice(deps, userId, list),
    deps.cache.remember(userId, 'entries:count', filters, () =>
      unfiltered(filters) ? q.entryTotal(deps.db.points, userId) : q.countEntries(deps.db.scans, userId, filters),
    ),
  ])
  const page: EntryPage = { ...slice, total }
  if (query.page === undefined) return page
  return { ...page, page: query.page, totalPages: Math.ceil(total / query.limit) }
}

const unfiltered = (filters: ListFilters) => Object.values(filters).every((value) => value === undefined)

async function loadSlice(
  deps: EntriesDeps,
  userId: number,
  { query, filters, after }: ListRequest,
): Promise<Pick<EntryPage, 'items' | 'nextCursor'>> {
  const offset = query.page === undefined ? 0 : (query.page - 1) * query.limit
  // One extra row tells whether another page follows.
  const rows = await q.listEntries(deps.db.scans, userId, filters, { after, offset, limit: query.limit + 1 })
  const items = rows.slice(0, query.limit)
  const last = items.at(-1)
  const nextCursor =
    rows.length > query.limit && last ? deps.cursors.encode(userId, filters, { occurredAt: last.position, id: last.id }) : null
  return { items: items.map(toJson), nextCursor }
}
