import type { Queryable } from '../db/index.js'

/** UTC with microseconds: JS dates would drop the last three digits Postgres keeps. */
const instant = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

const EXPORT_COLUMNS = `id, text, mood, category, ${instant('occurred_at')} as "occurredAt",
  ${instant('created_at')} as "createdAt", ${instant('updated_at')} as "updatedAt", version`

export interface ExportRow {
  id: number
  text: string
  mood: number
  category: string
  occurredAt: string
  createdAt: string
  updatedAt: string
  version: number
}

/** A row of the chronological (Markdown) export: also its local day and time in the export's zone. */
export interface LocalExportRow extends ExportRow {
  localDay: string
  localTime: string
}

/** The highest entry id of the user when the export starts: later entries are left out. */
export async function highestEntryId(db: Queryable, userId: number): Promise<number> {
  const rows = await db.query<{ id: number | null }>('select max(id) as id from entries where user_id = $1', [userId])
  return rows[0]?.id ?? 0
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
