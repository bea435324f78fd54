import type { UserCache } from '../cache/user-cache.js'
import type { Database } from '../db/index.js'
import { badRequest, notFound, preconditionFailed, type FieldError } from '../http/errors.js'
import { recordEntryEvent } from '../webhooks/events.js'
import type { CursorCodec, ListFilters, Position } from './cursor.js'
import { runIdempotent, requestHash } from './idempotency.js'
import { acceptedVersions } from './preconditions.js'
import * as q from './queries.js'
import type { CreateEntryBody, EntryJson, EntryPage, ListQuery, PatchEntryBody } from './schemas.js'

export interface EntriesDeps {
  db: Database
  cursors: CursorCodec
  /** Per-user read cache: list pages are served from it; every write here invalidates the user's generation. */
  cache: UserCache
}

const MAX_CATEGORY = 50
const NOT_FOUND = 'No entry with this id.'

/** Dates as ISO text: the same JSON whether just created or replayed from the idempotency store. */
export function toJson(row: q.EntryRow): EntryJson {
  return {
    id: row.id,
    text: row.text,
    mood: row.mood,
    category: row.category,
    occurredAt: row.occurredAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    version: row.version,
  }
}

/**
 * Why a string cannot be stored as text: Postgres refuses NUL (it would surface as a 500), and a
 * lone surrogate cannot be encoded as UTF-8 (drivers would silently replace it).
 */
function textProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL characters'
  if (/\p{Surrogate}/u.test(value)) return 'must be well-formed Unicode (no lone surrogates)'
  return undefined
}

function check(errors: FieldError[], field: string, value: string | undefined): void {
  const problem = value === undefined ? undefined : textProblem(value)
  if (problem) errors.push({ field, message: problem })
}

function trimmedCategory(errors: FieldError[], field: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined
  const category = raw.trim()
  const length = [...category].length
  if (length < 1 || length > MAX_CATEGORY) errors.push({ field, message: `must be 1 to ${MAX_CATEGORY} characters after trimming` })
  return category
}

function fail(errors: FieldError[], where: string): void {
  if (errors.length > 0) throw badRequest(`The ${where} did not pass validation.`, errors)
}

/** What the schema cannot say: no NUL, well-formed text, category length after trimming. */
function normaliseInput<T extends Partial<q.EntryInput>>(body: T): T {
  const errors: FieldError[] = []
  check(errors, 'text', body.text)
  check(errors, 'category', body.category)
  const category = trimmedCategory(errors, 'category', body.category)
  fail(errors, 'body')
  return category === undefined ? body : { ...body, category }
}

export async function createEntry(
  deps: EntriesDeps,
  userId: number,
  body: CreateEntryBody,
  idempotencyKey?: string,
): Promise<{ entry: EntryJson; replayed: boolean }> {
  const input = normaliseInput(body)
  if (idempotencyKey === undefined) {
    const entry = await deps.db.transaction(async (tx) => {
      const created = toJson(await q.insertEntry(tx, userId, input))
      await recordEntryEvent(tx, userId, 'entry.created', created)
      return created
    })
    await deps.cache.invalidate(userId)
    return { entry, replayed: false }
  }
  const result = await runIdempotent(deps.db, userId, idempotencyKey, requestHash('POST /entries', body), 201, async (tx) => {
    const created = toJson(await q.insertEntry(tx, userId, input))
    await recordEntryEvent(tx, userId, 'entry.created', created)
    return created
  })
  if (!result.replayed) await deps.cache.invalidate(userId)
  return { entry: result.body, replayed: result.replayed }
}

export async function getEntry(deps: EntriesDeps, userId: number, id: number): Promise<EntryJson> {
  const row = await q.findEntry(deps.db, userId, id)
  if (!row) throw notFound(NOT_FOUND)
  return toJson(row)
}

/** Partial update; with If-Match, only from the version(s) it names (else 412). */
export async function patchEntry(
  deps: EntriesDeps,
  userId: number,
  id: number,
  body: PatchEntryBody,
  ifMatch?: string,
): Promise<EntryJson> {
  const versions = acceptedVersions(ifMatch, id)
  const input = normaliseInput(body)
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
  if (versions !== null && (await q.entryExists(deps.db, userId, id))) throw preconditionFailed()
  throw notFound(NOT_FOUND)
}

export async function deleteEntry(deps: EntriesDeps, userId: number, id: number, ifMatch?: string): Promise<void> {
  const versions = acceptedVersions(ifMatch, id)
  const deleted = await deps.db.transaction(async (tx) => {
    const gone = await q.deleteEntry(tx, userId, id, versions)
    if (gone) await recordEntryEvent(tx, userId, 'entry.deleted', { id })
    return gone
  })
  if (deleted) {
    await deps.cache.invalidate(userId)
    return
  }
  if (versions !== null && (await q.entryExists(deps.db, userId, id))) throw preconditionFailed()
  throw notFound(NOT_FOUND)
}

/** Checks what the schema cannot (text safety, ranges between parameters) and normalises the filters. */
function listFilters(query: ListQuery): ListFilters {
  const errors: FieldError[] = []
  check(errors, 'query.category', query.category)
  check(errors, 'query.q', query.q)
  const category = trimmedCategory(errors, 'query.category', query.category)
  if (query.moodMin !== undefined && query.moodMax !== undefined && query.moodMin > query.moodMax) {
    errors.push({ field: 'query.moodMin', message: 'must not be greater than moodMax' })
  }
  if (query.from !== undefined && query.to !== undefined && Date.parse(query.from) > Date.parse(query.to)) {
    errors.push({ field: 'query.from', message: 'must not be later than to' })
  }
  if (query.cursor !== undefined && query.page !== undefined) {
    errors.push({ field: 'query.page', message: 'cannot be combined with cursor' })
  }
  fail(errors, 'query parameters')
  const { moodMin, moodMax, from, to, q: text } = query
  return { category, moodMin, moodMax, from, to, q: text }
}

/**
 * One page, newest first, as the response body (`serialize` is the route's serializer). Keyset
 * (`cursor`) pages cost the same at any depth; `page` pages use OFFSET, for clients of the
 * original API. Both report `total` and offer `nextCursor`. With the cache on, a repeated request
 * is answered with the body stored the first time, not parsed and serialised again.
 */
export async function listEntriesBody(
  deps: EntriesDeps,
  userId: number,
  query: ListQuery,
  serialize: (page: EntryPage) => string,
): Promise<string> {
  const filters = listFilters(query)
  const after = query.cursor === undefined ? undefined : deps.cursors.decode(userId, filters, query.cursor)
  // Validated first, so only good answers are cached; any write of the user's data retires them.
  const params = [filters, query.cursor ?? null, query.page ?? null, query.limit]
  return deps.cache.rememberText(userId, 'entries:list', params, async () => serialize(await loadPage(deps, userId, query, filters, after)))
}

async function loadPage(
  deps: EntriesDeps,
  userId: number,
  query: ListQuery,
  filters: ListFilters,
  after: Position | undefined,
): Promise<EntryPage> {
  // The count is cached apart from the pages, so walking a long listing counts once, not once per page.
  const [slice, total] = await Promise.all([
    loadSlice(deps, userId, query, filters, after),
    deps.cache.remember(userId, 'entries:count', filters, () => q.countEntries(deps.db.scans, userId, filters)),
  ])
  const page: EntryPage = { ...slice, total }
  if (query.page === undefined) return page
  return { ...page, page: query.page, totalPages: Math.ceil(total / query.limit) }
}

async function loadSlice(
  deps: EntriesDeps,
  userId: number,
  query: ListQuery,
  filters: ListFilters,
  after: Position | undefined,
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
