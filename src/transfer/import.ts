import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Readable, Writable } from 'node:stream'
import type { Database, Queryable } from '../db/index.js'
import { toJson } from '../entries/service.js'
import { recordEntryEvent } from '../webhooks/events.js'
import * as q from './queries.js'
import { readDaylio } from './read-daylio.js'
import { readJrnl } from './read-jrnl.js'
import { readCsv, readNdjson } from './read-moodlog.js'
import { AccountGone, DAYLIO_DEFAULT_MOODS, linesOf, type Candidate, type Reader, type ReaderOptions } from './rows.js'

export const IMPORT_FORMATS = ['moodlog', 'csv', 'daylio', 'jrnl'] as const
export type ImportFormat = (typeof IMPORT_FORMATS)[number]

const READERS: Record<ImportFormat, Reader> = { moodlog: readNdjson, csv: readCsv, daylio: readDaylio, jrnl: readJrnl }

const BATCH_SIZE = 1000
/** The report lists this many problems at most; `invalidCount` counts every invalid row. */
export const MAX_REPORTED_PROBLEMS = 1000

export interface InvalidRow {
  line: number
  field: string
  message: string
}

export interface ImportReport {
  /** Entries written (in a dry run: that would be written). */
  created: number
  /** Valid rows the journal already had before the import (same occurredAt, text, mood and category). */
  skipped: number
  /** Problems of the invalid rows, in file order, at most MAX_REPORTED_PROBLEMS. */
  invalid: InvalidRow[]
  /** Rows with at least one problem. */
  invalidCount: number
}

export interface ImportProgress {
  phase: 'reading' | 'writing'
  /** Rows read (reading) or written and checked for duplicates (writing). */
  rows: number
  /** Writing: the valid rows to go through. */
  total?: number
}

export interface ImportOptions {
  format: ImportFormat
  /** Canonical zone of the wall-clock formats (Daylio, jrnl). */
  tz: string
  dryRun?: boolean
  /** Write the valid rows even when some are invalid; otherwise any invalid row means nothing is written. */
  skipInvalid?: boolean
  /** Daylio: labels besides (or instead of) the defaults, label → 1–10. */
  moodMap?: Record<string, number>
  /** jrnl: the mood of every entry. */
  defaultMood?: number
  /** Runs in the import's transaction with each batch of new entries (webhook events for `notify`). */
  onCreated?: (tx: Queryable, entries: q.CreatedEntry[]) => Promise<void>
  onProgress?: (progress: ImportProgress) => void
}

/**
 * `onCreated` for an import asked to notify (`notify=true`, `--notify`): one `entry.created`
 * webhook event per new entry, recorded in the import's transaction, delivered by the servers'
 * webhook workers. An import is not news unless asked.
 */
export function entryCreatedEvents(userId: number): NonNullable<ImportOptions['onCreated']> {
  return async (tx, entries) => {
    for (const entry of entries) await recordEntryEvent(tx, userId, 'entry.created', toJson(entry))
  }
}

export interface ImportResult {
  report: ImportReport
  /** True when entries were committed. */
  written: boolean
}

class DryRunRollback extends Error {}

function write(out: Writable, text: string): Promise<void> | undefined {
  if (out.write(text)) return undefined
  return new Promise((resolve, reject) => {
    const done = () => {
      out.off('error', reject)
      resolve()
    }
    out.once('drain', done)
    out.once('error', reject)
  })
}

function readerOptions(options: ImportOptions): ReaderOptions {
  const moodLabels = new Map(Object.entries({ ...DAYLIO_DEFAULT_MOODS }))
  for (const [label, mood] of Object.entries(options.moodMap ?? {})) moodLabels.set(label.trim().toLowerCase(), mood)
  return { moodLabels, defaultMood: options.defaultMood }
}

/**
 * Imports a file into the user's journal, all or nothing, in two steps so that the database is
 * held only as long as writing takes, never while a slow client uploads:
 *  1. the file streams through its format's reader; each record is checked with the entries'
 *     rules and the valid rows are spooled to a private temporary file (memory stays flat);
 *  2. unless an invalid row stops it, one transaction inserts the spooled rows in batches,
 *     skipping those whose content the journal had before the import, so importing a file twice creates
 *     nothing the second time, even when both imports run at once (they take turns per user).
 *     A dry run does the same and rolls back: its report is exact.
 * A file that cannot be read as its format at all throws `UnreadableFile`; an account deleted
 * meanwhile, `AccountGone`.
 */
export async function importFile(db: Database, userId: number, input: Readable, options: ImportOptions): Promise<ImportResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-import-'))
  try {
    const spool = path.join(dir, 'rows.ndjson')
    const { valid, invalid, invalidCount } = await spoolValidRows(READERS[options.format](input, readerOptions(options)), spool, options)
    const report: ImportReport = { created: 0, skipped: 0, invalid, invalidCount }
    if ((invalidCount > 0 && !options.skipInvalid) || valid === 0) return { report, written: false }

    let created = 0
    try {
      await db.transaction(async (tx) => {
        if (!(await q.lockImports(tx, userId))) throw new AccountGone()
        // Under the lock: every entry up to here was there before this import (see `insertNewEntries`).
        const beforeId = await q.lastEntryId(tx, userId)
        created = await insertSpooled(tx, userId, spool, valid, beforeId, options)
        if (options.dryRun) throw new DryRunRollback()
      })
    } catch (error) {
      if (!(error instanceof DryRunRollback)) throw error
    }
    return { report: { ...report, created, skipped: valid - created }, written: !options.dryRun && created > 0 }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function spoolValidRows(candidates: AsyncIterable<Candidate>, file: string, options: ImportOptions) {
  // Journal entries are private: the spool is readable by its owner only.
  const out = createWriteStream(file, { mode: 0o600 })
  const failed = new Promise<never>((_, reject) => out.once('error', reject))
  failed.catch(() => {})
  let valid = 0
  let invalidCount = 0
  let rows = 0
  const invalid: InvalidRow[] = []
  try {
    for await (const candidate of candidates) {
      rows += 1
      if (rows % BATCH_SIZE === 0) options.onProgress?.({ phase: 'reading', rows })
      if (candidate.errors) {
        invalidCount += 1
        for (const error of candidate.errors) {
          if (invalid.length < MAX_REPORTED_PROBLEMS) invalid.push({ line: candidate.line, ...error })
        }
        continue
      }
      valid += 1
      const waiting = write(out, `${JSON.stringify(candidate.row)}\n`)
      if (waiting) await Promise.race([waiting, failed])
    }
    options.onProgress?.({ phase: 'reading', rows })
    await Promise.race([new Promise<void>((resolve) => out.end(resolve)), failed])
  } finally {
    out.destroy()
  }
  return { valid, invalid, invalidCount }
}

async function insertSpooled(
  tx: Queryable,
  userId: number,
  file: string,
  total: number,
  beforeId: number,
  options: ImportOptions,
): Promise<number> {
  let created = 0
  let done = 0
  let batch: string[] = []
  const flush = async () => {
    const rows = await q.insertNewEntries(tx, userId, options.tz, `[${batch.join(',')}]`, beforeId, options.onCreated !== undefined)
    created += rows.length
    done += batch.length
    batch = []
    if (options.onCreated && rows.length > 0) await options.onCreated(tx, rows as q.CreatedEntry[])
    options.onProgress?.({ phase: 'writing', rows: done, total })
  }
  for await (const line of linesOf(createReadStream(file))) {
    batch.push(line)
    if (batch.length === BATCH_SIZE) await flush()
  }
  if (batch.length > 0) await flush()
  return created
}
