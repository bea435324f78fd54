import { stringify } from 'csv-stringify/sync'
import type { Queryable } from '../db/index.js'
import { ndjsonPagesOn, type NdjsonPages } from './export-pages.js'
import * as q from './queries.js'

export const EXPORT_FORMATS = ['ndjson', 'csv', 'markdown'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** How each format is served and named. */
export const EXPORT_MEDIA: Record<ExportFormat, { contentType: string; extension: string }> = {
  ndjson: { contentType: 'application/x-ndjson; charset=utf-8', extension: 'ndjson' },
  csv: { contentType: 'text/csv; charset=utf-8; header=present', extension: 'csv' },
  markdown: { contentType: 'text/markdown; charset=utf-8', extension: 'md' },
}

/** The first line of an NDJSON export; `import` recognises it and skips it. */
export const NDJSON_HEADER = { format: 'moodlog', version: 1 } as const

/** Columns of the CSV export, in order; the moodlog CSV import reads the same names. */
export const CSV_COLUMNS = ['id', 'occurredAt', 'mood', 'category', 'text', 'createdAt', 'updatedAt', 'version'] as const

const PAGE_SIZE = 1000

export interface ExportOptions {
  format: ExportFormat
  /** A zone name Postgres knows (resolved by the caller): local days and times of the Markdown export. */
  tz: string
  exportedAt: Date
  /** Called once, before the first chunk, with the number of entries the export will hold. */
  onStart?: (total: number) => void
  /** Called after each page with the number of entries written so far. */
  onProgress?: (entries: number) => void
  pageSize?: number
  /** Where NDJSON pages come from; default: `db`, as strings (the API passes raw pages in server mode, see `ndjsonPagesOf`). */
  ndjsonPages?: NdjsonPages
}

/**
 * The user's entries in `format`, as text chunks, one page of entries per chunk. Pages are read by
 * keyset as the consumer asks for them (a `Readable.from` of this generator reads the next page
 * only when the previous one has been taken), so memory stays flat however long the journal is.
 * Each page is its own short statement, not one long transaction: an export never holds a
 * connection (in embedded mode, the only one) while a slow client reads. Entries created after
 * the export started are left out; one changed meanwhile is exported as its page found it.
 */
export async function* exportChunks(db: Queryable, userId: number, options: ExportOptions): AsyncGenerator<string | Buffer> {
  const { upToId, total } = await q.exportBounds(db, userId)
  options.onStart?.(total)
  const pageSize = options.pageSize ?? PAGE_SIZE
  let written = 0
  const progress = (rows: number) => {
    written += rows
    options.onProgress?.(written)
  }

  if (options.format === 'markdown') {
    yield markdownTitle(options)
    let after: q.ChronologicalPosition | null = null
    let day: string | undefined
    for (;;) {
      const rows = await q.entriesChronologically(db, userId, options.tz, after, upToId, pageSize)
      if (rows.length === 0) return
      let text = ''
      for (const row of rows) {
        if (row.localDay !== day) {
          day = row.localDay
          text += `## ${dayHeading(day)}\n\n`
        }
        text += markdownEntry(row)
      }
      yield text
      progress(rows.length)
      const last = rows[rows.length - 1]!
      after = { occurredAt: last.occurredAt, id: last.id }
    }
  }

  if (options.format === 'ndjson') {
    yield `${JSON.stringify({ ...NDJSON_HEADER, exportedAt: options.exportedAt.toISOString() })}\n`
    const pages = options.ndjsonPages ?? ndjsonPagesOn(db)
    let afterId = 0
    for (;;) {
      const page = await pages(userId, afterId, upToId, pageSize)
      if (page === null) return
      yield page.lines
      progress(page.rows)
      afterId = page.lastId
    }
  }

  yield csv([], true)
  let afterId = 0
  for (;;) {
    const rows = await q.entriesById(db, userId, afterId, upToId, pageSize)
    if (rows.length === 0) return
    yield csv(rows, false)
    progress(rows.length)
    afterId = rows[rows.length - 1]!.id
  }
}

/** RFC 4180: CRLF between records, every text field quoted (so newlines and edge spaces survive any reader). */
function csv(rows: q.ExportRow[], header: boolean): string {
  return stringify(rows, { header, columns: [...CSV_COLUMNS], quoted_string: true, record_delimiter: 'windows' })
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']

function dayHeading(localDay: string): string {
  return `${localDay}, ${WEEKDAYS[new Date(`${localDay}T00:00:00Z`).getUTCDay()]}`
}

function markdownTitle(options: ExportOptions): string {
  return `# moodlog journal\n\nExported ${options.exportedAt.toISOString()}; days and times in ${options.tz}.\n\n`
}

/** CommonMark's line endings: a lone `\r` ends a line too (https://spec.commonmark.org/0.31.2/#line-ending). */
const LINE_ENDING = /\r\n|\r|\n/

/**
 * The text as a block quote: `> ` before every line, so whatever it holds (a code fence, an HTML
 * block, a list) ends with the quote and cannot reach the sections after it. A line that would
 * still be a heading inside the quote (ATX, or a setext underline) is escaped with a backslash.
 */
function markdownText(text: string): string {
  return text
    .split(LINE_ENDING)
    .map((line) => (/^ {0,3}(#|=+\s*$|-+\s*$)/.test(line) ? `> \\${line}` : line === '' ? '>' : `> ${line}`))
    .join('\n')
}

/** The category as inline text of the entry's heading: one line, its Markdown punctuation escaped. */
function markdownInline(text: string): string {
  return text
    .split(LINE_ENDING)
    .join(' ')
    .replace(/[\\`*_[\]<>#!|~&]/g, (c) => `\\${c}`)
}

function markdownEntry(row: q.LocalExportRow): string {
  return `### ${row.localTime} · mood ${row.mood}/10 · ${markdownInline(row.category)}\n\n${markdownText(row.text)}\n\n`
}
