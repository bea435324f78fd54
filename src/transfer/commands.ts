import { createWriteStream } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable, type Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { findUserByEmail } from '../auth/queries.js'
import type { Config } from '../config.js'
import { openDatabase, type Database, type OpenDatabase } from '../db/index.js'
import { timeZoneCatalog } from '../stats/service.js'
import { EXPORT_FORMATS, exportChunks, type ExportFormat } from './export.js'
import { ndjsonPagesOf } from './export-pages.js'
import { TransferError } from './format.js'
import { entryCreatedEvents, IMPORT_FORMATS, importFile, type ImportFormat, type ImportReport } from './import.js'
import { noProgress, type Progress } from './progress.js'
import { AccountGone, UnreadableFile } from './rows.js'

export interface TransferIo {
  stdin: Readable
  stdout: Writable
  /** Messages; kept off stdout, which may be carrying the export. */
  note: (line: string) => void
  /** A progress display (on a terminal), or none. */
  progress?: Progress
}

async function userIdOf(db: Database, email: string): Promise<number> {
  const user = await findUserByEmail(db, email)
  if (!user) throw new TransferError(`no user with email ${email} (register the account first)`)
  return user.id
}

async function zoneOf(db: Database, asked: string | undefined): Promise<string> {
  const tz = await timeZoneCatalog(db).resolve(asked ?? 'UTC')
  if (tz === undefined) throw new TransferError(`unknown time zone ${asked}; use an IANA name such as Europe/Berlin`, 64)
  return tz
}

interface ExportRun {
  format: ExportFormat
  tz: string
  progress: Progress
}

/** Writes the export to `out` (left open: it may be stdout); resolves with the number of entries. */
async function exportEntries(db: Database, userId: number, out: Writable, run: ExportRun): Promise<number> {
  let count = 0
  const chunks = exportChunks(db, userId, {
    format: run.format,
    tz: run.tz,
    exportedAt: new Date(),
    // As the API reads them: as bytes in server mode.
    ndjsonPages: ndjsonPagesOf(db),
    onStart: (total) => run.progress.start('export', total, 'entries'),
    onProgress: (written) => run.progress.update((count = written)),
  })
  try {
    await pipeline(Readable.from(chunks, { objectMode: false }), out, { end: false })
  } finally {
    run.progress.stop()
  }
  return count
}

/** Export into `file` through a temporary name: an interrupted export never looks complete. */
async function exportToFile(db: Database, userId: number, file: string, run: ExportRun): Promise<number> {
  const partial = `${file}.partial-${process.pid}`
  // Journal entries are private: the file is readable by its owner only.
  const out = createWriteStream(partial, { mode: 0o600 })
  try {
    const count = await exportEntries(db, userId, out, run)
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())))
    await rename(partial, file)
    return count
  } catch (error) {
    out.destroy()
    await rm(partial, { force: true })
    throw error
  }
}

/** The format a file's name suggests, when `--format` is not given. */
function formatOfFile(file: string | undefined): ImportFormat {
  const extension = file ? path.extname(file).toLowerCase() : ''
  if (extension === '.csv') return 'csv'
  if (extension === '.json') return 'jrnl'
  return 'moodlog'
}

function parseMoodMap(raw: string | undefined): Record<string, number> | undefined {
  if (raw === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    value = undefined
  }
  const valid =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((mood) => Number.isInteger(mood) && mood >= 1 && mood <= 10)
  if (!valid) throw new TransferError('--mood-map must be a JSON object from label to mood 1-10, e.g. {"great":9}', 64)
  return value as Record<string, number>
}

function summary(report: ImportReport, email: string, dryRun: boolean): string {
  const invalid = report.invalidCount > 0 ? `, ${report.invalidCount} invalid skipped` : ''
  const verb = dryRun ? 'would import' : 'imported'
  return `${verb} ${report.created} entries for ${email} (${report.skipped} already there${invalid})${dryRun ? '; nothing written (dry run)' : ''}`
}

const EXPORT_OPTIONS = { user: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' }, tz: { type: 'string' } } as const
const IMPORT_OPTIONS = {
  user: { type: 'string' },
  in: { type: 'string' },
  format: { type: 'string' },
  tz: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'skip-invalid': { type: 'boolean' },
  'mood-map': { type: 'string' },
  'default-mood': { type: 'string' },
  notify: { type: 'boolean' },
} as const

/**
 * `moodlog export …` and `moodlog import …` (see cli.ts for the options); returns the exit code.
 * `open` gives the database the configuration names (and is closed after); cli.ts's `run()` passes its own.
 */
export async function runTransfer(
  command: 'export' | 'import',
  args: string[],
  config: Config,
  io: TransferIo,
  open: OpenDatabase = openDatabase,
): Promise<number> {
  const usage = (problem: string) => {
    io.note(`moodlog ${command}: ${problem}`)
    return 64
  }
  let values: Record<string, string | boolean | undefined>
  try {
    const options = command === 'export' ? EXPORT_OPTIONS : IMPORT_OPTIONS
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as typeof values
  } catch (error) {
    return usage((error as Error).message)
  }
  const email = values.user as string | undefined
  if (!email) return usage('--user EMAIL is required')
  const format = values.format as string | undefined
  const formats: readonly string[] = command === 'export' ? EXPORT_FORMATS : IMPORT_FORMATS
  if (format !== undefined && !formats.includes(format)) return usage(`--format must be one of ${formats.join(', ')}`)
  const defaultMood = values['default-mood'] === undefined ? undefined : Number(values['default-mood'])
  if (defaultMood !== undefined && !(Number.isInteger(defaultMood) && defaultMood >= 1 && defaultMood <= 10)) {
    return usage('--default-mood must be a whole number from 1 to 10')
  }
  const importFormat = (format as ImportFormat | undefined) ?? formatOfFile(values.in as string | undefined)
  if (command === 'import' && importFormat === 'daylio' && values.tz === undefined) return usage('--tz ZONE is required for Daylio files')
  if (command === 'import' && importFormat === 'jrnl' && defaultMood === undefined)
    return usage('--default-mood N is required for jrnl files')

  const progress = io.progress ?? noProgress
  const db = await open(config)
  try {
    const userId = await userIdOf(db, email)
    const tz = await zoneOf(db, values.tz as string | undefined)
    if (command === 'export') {
      const run: ExportRun = { format: (format as ExportFormat | undefined) ?? 'ndjson', tz, progress }
      const out = values.out as string | undefined
      const count = out ? await exportToFile(db, userId, out, run) : await exportEntries(db, userId, io.stdout, run)
      io.note(`exported ${count} entries of ${email}${out ? ` to ${out}` : ''}`)
      return 0
    }
    return await importCommand(db, userId, email, io, progress, {
      file: values.in as string | undefined,
      format: importFormat,
      tz,
      dryRun: values['dry-run'] === true,
      skipInvalid: values['skip-invalid'] === true,
      moodMap: parseMoodMap(values['mood-map'] as string | undefined),
      defaultMood,
      notify: values.notify === true,
    })
  } finally {
    await db.close()
  }
}

interface ImportRun {
  file?: string
  format: ImportFormat
  tz: string
  dryRun: boolean
  skipInvalid: boolean
  moodMap?: Record<string, number>
  defaultMood?: number
  /** As `notify=true` of `POST /import`: an `entry.created` webhook event per new entry. */
  notify: boolean
}

async function importCommand(db: Database, userId: number, email: string, io: TransferIo, progress: Progress, run: ImportRun) {
  // Opened first, so a missing file is a plain error rather than a stream error with no listener yet.
  const handle = run.file ? await open(run.file, 'r') : undefined
  const size = handle ? (await handle.stat()).size : undefined
  const source = handle ? handle.createReadStream() : io.stdin
  let bytes = 0
  // Counted as the import reads (a 'data' listener would start the flow before anyone reads, losing it).
  const input = Readable.from(
    (async function* () {
      for await (const chunk of source) {
        bytes += (chunk as Buffer).length
        yield chunk as Buffer
      }
    })(),
    { objectMode: false },
  )
  progress.start('read', size, size === undefined ? 'rows' : 'bytes')
  let phase: 'reading' | 'writing' = 'reading'
  try {
    const { notify, ...options } = run
    const { report } = await importFile(db, userId, input, {
      ...options,
      onCreated: notify ? entryCreatedEvents(userId) : undefined,
      onProgress: (p) => {
        if (p.phase === 'writing' && phase === 'reading') {
          phase = 'writing'
          progress.start('write', p.total, 'entries')
        }
        if (p.phase === 'reading') progress.update(size === undefined ? p.rows : bytes, p.rows)
        else progress.update(p.rows)
      },
    })
    progress.stop()
    for (const problem of report.invalid) io.note(`line ${problem.line}: ${problem.field} ${problem.message}`)
    if (report.invalidCount > report.invalid.length) io.note(`… and more: ${report.invalidCount} invalid rows in all`)
    if (report.invalidCount > 0 && !run.skipInvalid) {
      io.note(`nothing imported: ${report.invalidCount} invalid rows (fix them, or pass --skip-invalid to import the others)`)
      return 65
    }
    io.note(summary(report, email, run.dryRun))
    return 0
  } catch (error) {
    if (error instanceof UnreadableFile) {
      const details = error.errors.map((e) => `; ${e.field} ${e.message}`).join('')
      throw new TransferError(`${error.message}${details}`, 65)
    }
    if (error instanceof AccountGone) throw new TransferError(`no user with email ${email} any more: the account was deleted`)
    throw error
  } finally {
    progress.stop()
    if (source !== io.stdin) source.destroy()
    await handle?.close()
  }
}
