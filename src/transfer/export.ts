import { once } from 'node:events'
import type { Writable } from 'node:stream'
import type { Database, Queryable } from '../db/index.js'

const PAGE_SIZE = 1000

/** UTC with microseconds: JS dates would drop the last three digits Postgres keeps. */
const instant = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

interface ExportRow {
  id: number
  text: string
  mood: number
  category: string
  occurredAt: string
  createdAt: string
  updatedAt: string
}

async function page(db: Queryable, userId: number, afterId: number): Promise<ExportRow[]> {
  return db.query<ExportRow>(
    `select id, text, mood, category, ${instant('occurred_at')} as "occurredAt",
            ${instant('created_at')} as "createdAt", ${instant('updated_at')} as "updatedAt"
       from entries
      where user_id = $1 and id > $2
      order by id
      limit $3`,
    [userId, afterId, PAGE_SIZE],
  )
}

/**
 * Writes the user's entries to `out` as NDJSON, oldest id first (an import recreates them in the
 * same order), a page at a time by keyset on the primary key: memory stays flat however many
 * entries there are, and the writer's backpressure is respected. One repeatable-read transaction
 * makes the file a consistent snapshot even while the app keeps writing.
 */
export async function exportEntries(db: Database, userId: number, out: Writable): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query('set transaction isolation level repeatable read')
    let count = 0
    let afterId = 0
    for (;;) {
      const rows = await page(tx, userId, afterId)
      if (rows.length === 0) return count
      const text = rows
        .map(({ text, mood, category, occurredAt, createdAt, updatedAt }) =>
          JSON.stringify({ text, mood, category, occurredAt, createdAt, updatedAt }),
        )
        .join('\n')
      if (!out.write(`${text}\n`)) await once(out, 'drain')
      count += rows.length
      afterId = rows[rows.length - 1]!.id
    }
  })
}
