import type { Database, Queryable, RawQueryable } from '../db/index.js'
import { startCollection } from './collections.js'
import { EXPORT_COLUMNS } from './queries.js'

/** One page of the NDJSON export: its lines, each ending with a newline, and the page's last id. */
export interface NdjsonPage {
  lines: string | Buffer
  rows: number
  lastId: number
}

/** Where NDJSON pages come from: entries with `afterId` < id <= `upToId`, by id, at most `limit`; null past the end. */
export type NdjsonPages = (userId: number, afterId: number, upToId: number, limit: number) => Promise<NdjsonPage | null>

/**
 * The page rendered by Postgres, one line per entry with keys in the API's order (`row_to_json`
 * keeps the select's order and writes no spaces, as `JSON.stringify` does; both escape `"`, `\`
 * and the control characters alike). Returned as one value, so the page costs the driver one
 * value and not eight per entry.
 */
const NDJSON_PAGE = `select string_agg(row_to_json(page)::text, E'\\n' order by page.id) || E'\\n' as lines,
       count(*)::text as rows, max(page.id)::text as "lastId"
  from (select ${EXPORT_COLUMNS}
          from entries
         where user_id = $1 and id > $2 and id <= $3
         order by id
         limit $4) page`

type PageRow<T> = { lines: T | null; rows: T; lastId: T | null }

function pageOf<T extends string | Buffer>(row: PageRow<T> | undefined): NdjsonPage | null {
  if (!row || row.lines === null || row.lastId === null) return null
  return { lines: row.lines, rows: Number(String(row.rows)), lastId: Number(String(row.lastId)) }
}

/** Pages through a lane that parses values: the page arrives as one JS string (embedded mode). */
export function ndjsonPagesOn(db: Queryable): NdjsonPages {
  return async (userId, afterId, upToId, limit) =>
    pageOf((await db.query<PageRow<string>>(NDJSON_PAGE, [userId, afterId, upToId, limit]))[0])
}

/** Bytes of raw pages after which a collection is asked for: 16 MiB kept the export-memory growth near 33 MB. */
const COLLECT_EVERY_BYTES = 16 * 1024 * 1024

/**
 * Pages on the export lane (server mode), whose values postgres.js hands over as the bytes Postgres
 * sent (`raw()`: one Buffer per page, outside the JS heap; no string per page, no object per
 * entry), so a million-entry export allocates almost nothing on the heap and V8 has no reason to
 * grow it. The other lanes return strings, hence a lane of its own.
 *
 * What is left is the pages' Buffers and the socket reads under them: freed only by a collection,
 * which an export allocating so little on the heap rarely causes, so V8 lets them pile up to its
 * external-memory limit (about 64 MiB) first. Every `COLLECT_EVERY_BYTES` of pages, the export
 * therefore asks for one (`startCollection`: at most one a second in the process, however many
 * exports ask). See docs/PERFORMANCE.md, export-memory.
 */
export function rawNdjsonPagesOn(lane: RawQueryable, collect: () => void = startCollection): NdjsonPages {
  let sinceCollection = 0
  return async (userId, afterId, upToId, limit) => {
    const [row] = await lane.queryRaw(NDJSON_PAGE, [userId, afterId, upToId, limit])
    const [lines = null, count = null, lastId = null] = row ?? []
    sinceCollection += lines?.length ?? 0
    if (sinceCollection >= COLLECT_EVERY_BYTES) {
      sinceCollection = 0
      collect()
    }
    return pageOf({ lines, rows: count ?? Buffer.from('0'), lastId })
  }
}

/** The NDJSON pages of one export: as bytes on the export lane where the database has one, otherwise as strings on the scans. */
export function ndjsonPagesOf(db: Database): NdjsonPages {
  return db.exports ? rawNdjsonPagesOn(db.exports) : ndjsonPagesOn(db.scans)
}
