import type { Queryable } from '../db/index.js'
import type { EntryRow } from '../entries/queries.js'

/** UTC with microseconds: JS dates would drop the last three digits Postgres keeps. */
const instant = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

export const EXPORT_COLUMNS = `id, text, mood, category, ${instant('occurred_at')} as "occurredAt",
  ${instant('created_at')} as "createdAt", ${instant('updated_at')} as "updatedAt", version`

/** The entry as the API shows it, with microseconds kept (see `instant`). */
export type ExportRow = EntryRow

/** A row of the chronological (Markdown) export: also its local day and time in the export's zone. */
export interface LocalExportRow extends ExportRow {
  localDay: string
  localTime: string
}

/** The highest entry id of the user when the export starts (later entries are left out), and how many there are. */
export async function exportBounds(db: Queryable, userId: number): Promise<{ upToId: number; total: number }> {
  const rows = await db.query<{ upToId: number; total: number }>(
    'select coalesce(max(id), 0) as "upToId", count(*) as total from entries where user_id = $1',
    [userId],
  )
  return rows[0]!
}

/** Entries with `afterId` < id <= `upToId`, by id: keyset pages on the primary key. */
export async function entriesById(db: Queryable, userId: number, afterId: number, upToId: number, limit: number): Promise<ExportRow[]> {
  return db.query<ExportRow>(
    `select ${EXPORT_COLUMNS}
       from entries
      where user_id = $1 and id > $2 and id <= $3
      order by id
      limit $4`,
    [userId, afterId, upToId, limit],
  )
}

export interface ChronologicalPosition {
  /** `occurredAt` exactly as exported (microseconds, UTC). */
  occurredAt: string
  id: number
}

/**
 * Entries oldest first by (occurred_at, id) after `after`, with their local day and time in `tz`
 * (a zone name Postgres knows); served backwards by the (user_id, occurred_at desc, id desc) index
 * (the first page starts at -infinity rather than an `is null or`, which would not be sargable).
 */
export async function entriesChronologically(
  db: Queryable,
  userId: number,
  tz: string,
  after: ChronologicalPosition | null,
  upToId: number,
  limit: number,
): Promise<LocalExportRow[]> {
  return db.query<LocalExportRow>(
    `select ${EXPORT_COLUMNS},
            to_char(occurred_at at time zone $2, 'YYYY-MM-DD') as "localDay",
            to_char(occurred_at at time zone $2, 'HH24:MI') as "localTime"
       from entries
      where user_id = $1 and id <= $3
        and (occurred_at, id) > (coalesce($4::text::timestamptz, '-infinity'), $5::int8)
      order by occurred_at, id
      limit $6`,
    [userId, tz, upToId, after?.occurredAt ?? null, after?.id ?? 0, limit],
  )
}

/** As the entries module reads an entry: timestamps as UTC text with milliseconds, like the API's JSON. */
export interface CreatedEntry {
  id: number
  text: string
  mood: number
  category: string
  occurredAt: string
  createdAt: string
  updatedAt: string
  version: number
}

const apiInstant = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
const CREATED_COLUMNS = `id, text, mood, category, ${apiInstant('occurred_at')} as "occurredAt", ${apiInstant('created_at')} as "createdAt",
  ${apiInstant('updated_at')} as "updatedAt", version`

/** The user's highest entry id (0 with none): taken under the import lock, it marks what was there before the import. */
export async function lastEntryId(db: Queryable, userId: number): Promise<number> {
  const rows = await db.query<{ id: number }>('select coalesce(max(id), 0)::int8 as id from entries where user_id = $1', [userId])
  return Number(rows[0]!.id)
}

/**
 * Inserts the rows (a JSON array of `ImportRow`) whose content, (occurred_at, text, mood,
 * category), no entry the journal had before this import (id <= `beforeId`) has. Only those are
 * compared, never rows of the same file: a journal may hold two identical entries on purpose
 * (`POST /entries` allows it), and its export must bring both back. Importing a file again still
 * creates nothing, since all its rows were there before. File order is kept (identity ids follow
 * it). Timestamps are parsed by Postgres, so microseconds survive; wall-clock `localAt` is read in
 * `tz` (every row has one of the two: see `checkRow`); missing createdAt and updatedAt default
 * like the API's (now; updatedAt: createdAt). Returns the new entries when `returning`, else only
 * their ids.
 */
export async function insertNewEntries(
  db: Queryable,
  userId: number,
  tz: string,
  rowsJson: string,
  beforeId: number,
  returning: boolean,
): Promise<Array<Partial<CreatedEntry> & { id: number }>> {
  return db.query(
    `with incoming as (
       select n, e->>'text' as text, (e->>'mood')::smallint as mood, e->>'category' as category,
              coalesce((e->>'occurredAt')::timestamptz, (e->>'localAt')::timestamp at time zone $3::text) as occurred_at,
              coalesce((e->>'createdAt')::timestamptz, now()) as created_at,
              coalesce((e->>'updatedAt')::timestamptz, (e->>'createdAt')::timestamptz, now()) as updated_at,
              coalesce((e->>'version')::int4, 1) as version
         from jsonb_array_elements($2::text::jsonb) with ordinality as r (e, n)
     )
     insert into entries (user_id, text, mood, category, occurred_at, created_at, updated_at, version)
     select $1, text, mood, category, occurred_at, created_at, updated_at, version
       from incoming i
      where not exists (
              select 1 from entries x
               where x.user_id = $1 and x.id <= $4 and x.occurred_at = i.occurred_at
                 and x.text = i.text and x.mood = i.mood and x.category = i.category)
      order by n
     returning ${returning ? CREATED_COLUMNS : 'id'}`,
    [userId, rowsJson, tz, beforeId],
  )
}

/** The first key of the imports' advisory locks (the second is the user's): apart from the migrations' one-key lock. */
export const IMPORT_LOCK_CLASS = 0x6d6c_6970 // "mlip"

/**
 * Makes the user's imports take turns until the transaction ends, and keeps the account from
 * being deleted meanwhile; false when it is already gone (deleted while the file was read). The
 * duplicate check of
 * `insertNewEntries` sees only committed rows (READ COMMITTED), so two imports of one file running
 * at once would each find the other's rows missing and both insert them; no unique key can stop
 * it (the same content may be written twice on purpose through `POST /entries`). Other users, and
 * other writes of this user, do not wait. Ids past 2^31 share a lock with a smaller one: it only
 * makes their imports take turns too.
 */
export async function lockImports(db: Queryable, userId: number): Promise<boolean> {
  await db.query('select pg_advisory_xact_lock($1::int4, ($2::int8 % 2147483648)::int4)', [IMPORT_LOCK_CLASS, userId])
  // The lock a new entry's foreign key takes anyway, taken first: `DELETE /me` waits for the import.
  const account = await db.query('select from users where id = $1 for key share', [userId])
  return account.length > 0
}
