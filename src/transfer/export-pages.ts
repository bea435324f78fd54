import vm from 'node:vm'
import postgres from 'postgres'
import type { Queryable } from '../db/index.js'
import { DatabaseUnavailableError, isConnectionError } from '../db/errors.js'
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

/** Pages through the app's database: the page arrives as one JS string (embedded mode, and tests on the lanes). */
export function ndjsonPagesOn(db: Queryable): NdjsonPages {
  return async (userId, afterId, upToId, limit) =>
    pageOf((await db.query<PageRow<string>>(NDJSON_PAGE, [userId, afterId, upToId, limit]))[0])
}

/** Bytes of raw pages after which a collection is asked for: 16 MiB kept the export-memory growth near 33 MB. */
const COLLECT_EVERY_BYTES = 16 * 1024 * 1024

export interface RawNdjsonPagesOptions {
  url: string
  /** Connections; exports running at once take turns on them, page by page. */
  max: number
  statementTimeoutMs: number
  connectTimeoutMs: number
}

/**
 * Pages on connections of their own whose values postgres.js hands over as the bytes Postgres
 * sent (`raw()`: one Buffer per page, outside the JS heap; no string per page, no object per
 * entry), so a million-entry export allocates almost nothing on the heap and V8 has no reason to
 * grow it. The lanes of `Database` return strings, hence this pool; it opens its connection only
 * when an export runs and closes it after a minute idle.
 *
 * What is left is the pages' Buffers and the socket reads under them: freed only by a collection,
 * which an export allocating so little on the heap rarely causes, so V8 lets them pile up to its
 * external-memory limit (about 64 MiB) first. Every `COLLECT_EVERY_BYTES` of pages, a collection is
 * therefore started (`vm.measureMemory` with eager execution is the documented way to start one
 * without --expose-gc; its measurement is not used). See docs/PERFORMANCE.md, export-memory.
 */
export function openRawNdjsonPages(options: RawNdjsonPagesOptions): { pages: NdjsonPages; close(): Promise<void> } {
  const sql = postgres(options.url, {
    max: options.max,
    connect_timeout: options.connectTimeoutMs / 1000,
    idle_timeout: 60,
    max_lifetime: 30 * 60,
    onnotice: () => {},
    connection: { application_name: 'moodlog-export', statement_timeout: options.statementTimeoutMs },
  })
  let sinceCollection = 0
  const pages: NdjsonPages = async (userId, afterId, upToId, limit) => {
    let row: Array<Buffer | null> | undefined
    try {
      row = (await sql.unsafe(NDJSON_PAGE, [userId, afterId, upToId, limit], { prepare: true }).raw())[0] as typeof row
    } catch (error) {
      throw isConnectionError(error) ? new DatabaseUnavailableError(error) : error
    }
    const [lines = null, count = null, lastId = null] = row ?? []
    sinceCollection += lines?.length ?? 0
    if (sinceCollection >= COLLECT_EVERY_BYTES) {
      sinceCollection = 0
      vm.measureMemory({ execution: 'eager' }).catch(() => {})
    }
    return pageOf({ lines, rows: count ?? Buffer.from('0'), lastId })
  }
  return { pages, close: () => sql.end({ timeout: 5 }) }
}
