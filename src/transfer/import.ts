import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import type { Database, Queryable } from '../db/index.js'
import { parseEntryLine, type EntryLine } from './format.js'
import { NDJSON_HEADER } from './export.js'

const BATCH_SIZE = 1000

/**
 * One statement per batch: the rows travel as one JSON array and keep their file order (identity
 * ids follow it). Timestamps are parsed by Postgres, so microseconds survive; missing ones default
 * like the API's (occurredAt and createdAt: now; updatedAt: createdAt).
 */
async function insertBatch(db: Queryable, userId: number, batch: EntryLine[]): Promise<void> {
  await db.query(
    `insert into entries (user_id, text, mood, category, occurred_at, created_at, updated_at, version)
     select $1, e->>'text', (e->>'mood')::smallint, e->>'category',
            coalesce((e->>'occurredAt')::timestamptz, now()),
            coalesce((e->>'createdAt')::timestamptz, now()),
            coalesce((e->>'updatedAt')::timestamptz, (e->>'createdAt')::timestamptz, now()),
            coalesce((e->>'version')::int4, 1)
       from jsonb_array_elements($2::text::jsonb) with ordinality as rows (e, n)
      order by n`,
    [userId, JSON.stringify(batch)],
  )
}

function isHeaderLine(line: string): boolean {
  try {
    const value = JSON.parse(line) as { format?: unknown }
    return value !== null && typeof value === 'object' && value.format === NDJSON_HEADER.format
  } catch {
    return false
  }
}

/**
 * Reads NDJSON entries from `input` and adds them to the user's journal. All or nothing: the whole
 * file is one transaction, so a bad line (reported with its number) leaves the journal as it was,
 * and running the import again after fixing the file cannot duplicate half of it. Lines are
 * validated and inserted in batches as they stream in; blank lines are skipped.
 */
export async function importEntries(db: Database, userId: number, input: Readable): Promise<number> {
  return db.transaction(async (tx) => {
    // Created right before iterating: readline starts reading at once, and lines it emits before
    // the loop listens are lost.
    const lines = createInterface({ input, crlfDelay: Infinity })
    try {
      let count = 0
      let lineNumber = 0
      let batch: EntryLine[] = []
      for await (const raw of lines) {
        lineNumber += 1
        const line = lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw
        if (line.trim() === '') continue
        // The export's header line.
        if (count === 0 && batch.length === 0 && isHeaderLine(line)) continue
        batch.push(parseEntryLine(line, lineNumber))
        if (batch.length === BATCH_SIZE) {
          await insertBatch(tx, userId, batch)
          count += batch.length
          batch = []
        }
      }
      if (batch.length > 0) await insertBatch(tx, userId, batch)
      return count + batch.length
    } finally {
      lines.close()
    }
  })
}
