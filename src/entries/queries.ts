import type { Queryable } from '../db/index.js'
import { queueEntryEvent } from '../webhooks/queries.js'
import type { VersionCondition } from './preconditions.js'

export interface EntryRow {
  id: number
  text: string
  mood: number
  category: string
  /** RFC 3339 in UTC with milliseconds, as the API shows it. */
  occurredAt: string
  createdAt: string
  updatedAt: string
  version: number
}

/** A listed row also carries its exact position (JS dates stop at milliseconds; Postgres keeps microseconds). */
export interface ListedRow extends EntryRow {
  position: string
}

export interface EntryInput {
  text: string
  mood: number
  category: string
  /** RFC 3339 text, parsed by Postgres (keeps microseconds); undefined → now. */
  occurredAt?: string
}

/**
 * Timestamps leave as text written by Postgres in UTC: the driver's Date parsing depends on the
 * session's TimeZone (a historical offset such as +00:19:32 is an Invalid Date) and reads years
 * below 50 as 20xx. The migrations keep every stored instant within 1900–9999, where this is exact.
 */
const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
const COLUMNS = `id, text, mood, category, ${iso('occurred_at')} as "occurredAt", ${iso('created_at')} as "createdAt",
  ${iso('updated_at')} as "updatedAt", version`

/**
 * Timestamps travel as text and are cast in SQL (`$n::text::timestamptz`): a parameter typed
 * timestamptz would be converted through a JS Date by postgres.js, losing microseconds and
 * failing on forms Date cannot read (leap second, BC years).
 */
const POSITION = `to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z" BC')`

/** The version condition as SQL on parameters $n (accepted, null = any) and $n+1 (refused). */
const VERSION_MATCHES = (n: number) => `($${n}::int4[] is null or version = any($${n}::int4[])) and version <> all($${n + 1}::int4[])`
const versionParams = (versions: VersionCondition | null) => [versions?.accepted ?? null, versions?.refused ?? []]

export async function insertEntry(db: Queryable, userId: number, input: EntryInput): Promise<EntryRow> {
  const rows = await db.query<EntryRow>(
    `insert into entries (user_id, text, mood, category, occurred_at)
     values ($1, $2, $3, $4, coalesce($5::text::timestamptz, now()))
     returning ${COLUMNS}`,
    [userId, input.text, input.mood, input.category, input.occurredAt ?? null],
  )
  return rows[0]!
}

/**
 * `insertEntry` and, in the same statement, its `entry.created` event for the user's subscribed
 * endpoints: one round trip, atomic without a transaction (a create used to be BEGIN, insert,
 * event, COMMIT on a reserved connection; see docs/PERFORMANCE.md, create).
 */
export async function insertEntryWithEvent(db: Queryable, userId: number, input: EntryInput, eventId: string): Promise<EntryRow> {
  const rows = await db.query<EntryRow>(
    `with created as (
       insert into entries (user_id, text, mood, category, occurred_at)
       values ($1, $2, $3, $4, coalesce($5::text::timestamptz, now()))
       returning ${COLUMNS}),
     queued as (${queueEntryEvent('entry.created', 'created', '$1', '$6')})
     select * from created`,
    [userId, input.text, input.mood, input.category, input.occurredAt ?? null, eventId],
  )
  return rows[0]!
}

export async function findEntry(db: Queryable, userId: number, id: number): Promise<EntryRow | undefined> {
  const rows = await db.query<EntryRow>(`select ${COLUMNS} from entries where user_id = $1 and id = $2`, [userId, id])
  return rows[0]
}

export async function entryExists(db: Queryable, userId: number, id: number): Promise<boolean> {
  const rows = await db.query('select 1 from entries where user_id = $1 and id = $2', [userId, id])
  return rows.length > 0
}

/**
 * Applies the given fields when the version meets `versions` (null: any). The check and the
 * write are this one statement: a concurrent writer is waited for, then its new version fails the check.
 */
export async function updateEntry(
  db: Queryable,
  userId: number,
  id: number,
  patch: Partial<EntryInput>,
  versions: VersionCondition | null,
): Promise<EntryRow | undefined> {
  const rows = await db.query<EntryRow>(
    `update entries
        set text = coalesce($3::text, text),
            mood = coalesce($4::smallint, mood),
            category = coalesce($5::text, category),
            occurred_at = coalesce($6::text::timestamptz, occurred_at),
            updated_at = now(),
            version = version + 1
      where user_id = $1 and id = $2 and ${VERSION_MATCHES(7)}
      returning ${COLUMNS}`,
    [userId, id, patch.text ?? null, patch.mood ?? null, patch.category ?? null, patch.occurredAt ?? null, ...versionParams(versions)],
  )
  return rows[0]
}

/** Deletes when the version meets `versions` (null: any); true when a row went. */
export async function deleteEntry(db: Queryable, userId: number, id: number, versions: VersionCondition | null): Promise<boolean> {
  const rows = await db.query(
    `delete from entries
      where user_id = $1 and id = $2 and ${VERSION_MATCHES(3)}
      returning id`,
    [userId, id, ...versionParams(versions)],
  )
  return rows.length > 0
}

/** What a listing or count is narrowed by (absent = no condition); the same fields a cursor is bound to. */
export interface EntryFilters {
  category?: string
  moodMin?: number
  moodMax?: number
  /** RFC 3339, inclusive. */
  from?: string
  /** RFC 3339, exclusive. */
  to?: string
  /** Words for full-text search. */
  q?: string
}

/** WHERE conditions for the filters; every value is a parameter. */
function filtersSql(userId: number, filters: EntryFilters): { where: string; params: unknown[] } {
  const params: unknown[] = [userId]
  const conditions = ['user_id = $1']
  const add = (condition: (param: string) => string, value: unknown) => {
    params.push(value)
    conditions.push(condition(`$${params.length}`))
  }
  // lower(category) matches the expression index entries_user_category_idx.
  if (filters.category !== undefined) add((p) => `lower(category) = lower(${p}::text)`, filters.category)
  if (filters.moodMin !== undefined) add((p) => `mood >= ${p}::smallint`, filters.moodMin)
  if (filters.moodMax !== undefined) add((p) => `mood <= ${p}::smallint`, filters.moodMax)
  if (filters.from !== undefined) add((p) => `occurred_at >= ${p}::text::timestamptz`, filters.from)
  if (filters.to !== undefined) add((p) => `occurred_at < ${p}::text::timestamptz`, filters.to)
  if (filters.q !== undefined) add((p) => `search @@ websearch_to_tsquery('simple', ${p}::text)`, filters.q)
  return { where: conditions.join(' and '), params }
}

export interface PageWindow {
  /**
   * Keyset: rows strictly after this place in the newest-first order: the exact `occurred_at` as
   * written by POSITION (microseconds) and the id.
   */
  after?: { occurredAt: string; id: number }
  offset: number
  limit: number
}

/** Newest first by occurred_at, then id; served by the (user_id, occurred_at desc, id desc) indexes. */
export async function listEntries(db: Queryable, userId: number, filters: EntryFilters, window: PageWindow): Promise<ListedRow[]> {
  const { where, params } = filtersSql(userId, filters)
  let keyset = ''
  if (window.after) {
    params.push(window.after.occurredAt, window.after.id)
    keyset = ` and (occurred_at, id) < ($${params.length - 1}::text::timestamptz, $${params.length}::int8)`
  }
  params.push(window.limit, window.offset)
  return db.query<ListedRow>(
    `select ${COLUMNS}, ${POSITION} as position
       from entries
      where ${where}${keyset}
      order by occurred_at desc, id desc
      limit $${params.length - 1} offset $${params.length}`,
    params,
  )
}

/** All of the user's entries, from the count the triggers of migration 005 keep: one key lookup, at any size. */
export async function entryTotal(db: Queryable, userId: number): Promise<number> {
  const rows = await db.query<{ total: number }>('select coalesce((select total from entry_counts where user_id = $1), 0) as total', [
    userId,
  ])
  return rows[0]!.total
}

/** Entries matching the filters: counts every match (the filters' indexes bound the scan, not the count). */
export async function countEntries(db: Queryable, userId: number, filters: EntryFilters): Promise<number> {
  const { where, params } = filtersSql(userId, filters)
  const rows = await db.query<{ total: number }>(`select count(*) as total from entries where ${where}`, params)
  return rows[0]!.total
}

export interface CategoryRow {
  name: string
  count: number
  lastUsedAt: Date
}

/**
 * The user's categories, most recently used first. Categories compare case-insensitively (as the
 * `category=` filter does), so "Work" and "work" are one, named as in its newest entry.
 */
export async function listCategories(db: Queryable, userId: number, limit: number): Promise<CategoryRow[]> {
  return db.query<CategoryRow>(
    `select (array_agg(category order by occurred_at desc, id desc))[1] as name,
            count(*)::int as count,
            max(occurred_at) as "lastUsedAt"
     from entries
     where user_id = $1
     group by lower(category)
     order by "lastUsedAt" desc, lower(category)
     limit $2`,
    [userId, limit],
  )
}
