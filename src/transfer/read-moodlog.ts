/** moodlog's own files, as `GET /export` writes them: NDJSON (`format=moodlog`) and CSV (`format=csv`). */
import { Readable } from 'node:stream'
import { CsvError, parse } from 'csv-parse'
import { CSV_COLUMNS, NDJSON_HEADER } from './export.js'
import { checkRow, linesOf, numberFrom, UnreadableFile, utf8Lines, type Candidate } from './rows.js'

const NDJSON_FIELDS = new Set(['id', 'text', 'mood', 'category', 'occurredAt', 'createdAt', 'updatedAt', 'version'])

/** `id` is the source's (ignored: the target assigns its own); `version` is kept. */
function versionOf(value: unknown): { version?: number; error?: string } {
  if (value === undefined || value === '') return {}
  const version = numberFrom(value)
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > 2_147_483_647) {
    return { error: 'must be a whole number from 1' }
  }
  return { version }
}

function idProblem(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined
  const id = numberFrom(value)
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 1 ? undefined : 'must be a whole number from 1'
}

function moodlogRecord(line: number, record: Record<string, unknown>): Candidate {
  const unknown = Object.keys(record).filter((name) => !NDJSON_FIELDS.has(name))
  const version = versionOf(record.version)
  const id = idProblem(record.id)
  const candidate = checkRow(line, record as never, version.version === undefined ? {} : { version: version.version })
  const errors = [
    ...(candidate.errors ?? []),
    ...unknown.map((field) => ({ field, message: 'is not an allowed field' })),
    ...(version.error ? [{ field: 'version', message: version.error }] : []),
    ...(id ? [{ field: 'id', message: id }] : []),
  ]
  return errors.length > 0 ? { line, errors } : candidate
}

/** One JSON object per line; blank lines are skipped; the export's header line is recognised on line 1. */
export async function* readNdjson(input: Readable): AsyncGenerator<Candidate> {
  let line = 0
  let seenContent = false
  for await (const raw of linesOf(input)) {
    line += 1
    const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw
    if (text.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      yield { line, errors: [{ field: '(line)', message: 'is not valid JSON' }] }
      seenContent = true
      continue
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield { line, errors: [{ field: '(line)', message: 'must be a JSON object' }] }
    } else if (!seenContent && (value as { format?: unknown }).format === NDJSON_HEADER.format) {
      const version = (value as { version?: unknown }).version
      if (version !== NDJSON_HEADER.version) {
        throw new UnreadableFile(`This is a moodlog export of version ${String(version)}; this moodlog reads version 1.`)
      }
    } else {
      yield moodlogRecord(line, value as Record<string, unknown>)
    }
    seenContent = true
  }
}

export interface CsvRecord {
  /** The line on which the record starts. */
  line: number
  values: string[]
}

/**
 * RFC 4180 records with the line each starts on (a quoted field may span lines). A file that is not
 * CSV at all (an unclosed quote) is refused as a whole; a row with the wrong number of fields is
 * reported as that row's problem.
 */
export async function* csvRecords(input: Readable): AsyncGenerator<CsvRecord> {
  // Strict UTF-8 first (utf8Lines names a line that is not); csv-parse would decode leniently.
  const text = Readable.from(utf8Lines(input))
  const parser = text.pipe(parse({ relax_column_count: true, skip_empty_lines: true, info: true }))
  text.once('error', (error) => parser.destroy(error))
  let previousEnd = 0
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      // Blank lines between records are skipped by the parser; the record ends on `info.lines`.
      const spanned = record.reduce((lines, value) => lines + (value.match(/\r\n|\r|\n/g)?.length ?? 0), 0)
      const line = Math.max(previousEnd + 1, info.lines - spanned)
      previousEnd = info.lines
      yield { line, values: record }
    }
  } catch (error) {
    // Every parser error (its codes do not all start with CSV_, e.g. INVALID_OPENING_QUOTE) is the file's fault.
    if (error instanceof CsvError) throw new UnreadableFile(`The file is not valid CSV: ${error.message}`)
    throw error
  }
}

/**
 * The header row names the columns (any order); `text`, `mood` and `category` are required, the
 * others of the export optional; a column moodlog does not know is refused, since its data would be lost.
 */
export async function* readCsv(input: Readable): AsyncGenerator<Candidate> {
  let columns: string[] | undefined
  for await (const { line, values } of csvRecords(input)) {
    if (!columns) {
      columns = values.map((name) => name.trim())
      const known = new Set<string>(CSV_COLUMNS)
      const unknown = columns.filter((name) => !known.has(name))
      const missing = ['text', 'mood', 'category'].filter((name) => !columns!.includes(name))
      if (unknown.length > 0 || missing.length > 0) {
        const hint = columns.includes('full_date') || columns.includes('year') ? ' (a Daylio export? use format=daylio)' : ''
        throw new UnreadableFile(`The CSV header must name moodlog's columns (${CSV_COLUMNS.join(', ')})${hint}.`, [
          ...unknown.map((name) => ({ field: `header.${name}`, message: 'is not a moodlog column' })),
          ...missing.map((name) => ({ field: `header.${name}`, message: 'is required' })),
        ])
      }
      continue
    }
    if (values.length !== columns.length) {
      yield { line, errors: [{ field: '(row)', message: `has ${values.length} fields; the header has ${columns.length}` }] }
      continue
    }
    const record: Record<string, unknown> = {}
    columns.forEach((name, i) => {
      const value = values[i]!
      // An empty optional cell means "not given"; an empty text or category is still checked.
      if (value === '' && !['text', 'mood', 'category'].includes(name)) return
      record[name] = name === 'mood' ? numberFrom(value) : value
    })
    yield moodlogRecord(line, record)
  }
  if (!columns) throw new UnreadableFile('The CSV file is empty: it needs a header row.')
}
