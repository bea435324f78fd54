/**
 * What every import format turns its records into, and the checks they share. The field rules
 * are the entries' own (src/entries/rules.ts): an imported entry passes exactly what
 * `POST /entries` would accept, and nothing else.
 */
import type { Readable } from 'node:stream'
import { checkEntry, checkInstant } from '../entries/rules.js'
import type { FieldError } from '../http/errors.js'

/** One entry as it will be written; timestamps are text that Postgres parses exactly. */
export interface ImportRow {
  text: string
  mood: number
  category: string
  /** RFC 3339 with an offset. */
  occurredAt?: string
  /** Wall-clock `YYYY-MM-DDTHH:MM:SS`, read in the import's `tz` (formats without offsets). */
  localAt?: string
  createdAt?: string
  updatedAt?: string
  version?: number
}

/** A record of the file: the row to write, or why it cannot be written. `line` is 1-based. */
export type Candidate = { line: number; row: ImportRow; errors?: undefined } | { line: number; row?: undefined; errors: FieldError[] }

export interface ReaderOptions {
  /** Daylio: mood label (lower case) → 1–10, the defaults with `moodMap` over them. */
  moodLabels: Map<string, number>
  /** jrnl: the mood every entry gets. */
  defaultMood?: number
}

export type Reader = (input: Readable, options: ReaderOptions) => AsyncIterable<Candidate>

/** A file-level problem (not one row's): the whole import is refused with this 400. */
export class UnreadableFile extends Error {
  override name = 'UnreadableFile'
  constructor(
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message)
  }
}

/** The account was deleted while its import was being read: there is no journal to write to. */
export class AccountGone extends Error {
  override name = 'AccountGone'
  constructor() {
    super('The account no longer exists.')
  }
}

/** Labels Daylio ships with, best to worst. */
export const DAYLIO_DEFAULT_MOODS: Readonly<Record<string, number>> = { rad: 10, good: 8, meh: 5, bad: 3, awful: 1 }

/**
 * Checks the fields of a row with the entries' rules (microsecond timestamps allowed: they are
 * what an export carries). `fields` are the row's values under their names in the file; `names`
 * maps a rule's field to the file's name for it, so the report speaks the file's language.
 * A row needs its instant: `occurredAt`, or the wall-clock `localAt` of the formats without offsets.
 */
export function checkRow(
  line: number,
  fields: { text: unknown; mood: unknown; category: unknown; occurredAt?: unknown; createdAt?: unknown; updatedAt?: unknown },
  extra: Pick<ImportRow, 'localAt' | 'version'> = {},
  names: Partial<Record<'text' | 'mood' | 'category' | 'occurredAt', string>> = {},
): Candidate {
  const entry = checkEntry(
    { text: fields.text, mood: fields.mood, category: fields.category, occurredAt: fields.occurredAt },
    { fractionDigits: 6 },
  )
  const errors: FieldError[] = (entry.errors ?? []).map((error) => ({
    field: names[error.field as keyof typeof names] ?? error.field,
    message: error.message,
  }))
  const row: ImportRow = { text: '', mood: 0, category: '', ...extra }
  if (entry.value) Object.assign(row, entry.value)
  // Unlike `POST /entries`, an imported row never defaults to now: the time is part of what makes a
  // row the same entry, and "now" differs on every run, so such a row would be created again by
  // each re-import of the file. An import restores a journal; a row without a time is refused.
  if (fields.occurredAt === undefined && extra.localAt === undefined) {
    errors.push({
      field: names.occurredAt ?? 'occurredAt',
      message: 'is required: the instant the entry is about, with an offset (RFC 3339)',
    })
  }
  for (const name of ['createdAt', 'updatedAt'] as const) {
    if (fields[name] === undefined) continue
    const checked = checkInstant(fields[name], name, { fractionDigits: 6 })
    if (checked.errors) errors.push(...checked.errors)
    else row[name] = checked.value
  }
  if (row.occurredAt === undefined) delete row.occurredAt
  if (row.localAt === undefined) delete row.localAt
  if (row.version === undefined) delete row.version
  return errors.length > 0 ? { line, errors } : { line, row }
}

/** `"7"` → 7 for formats that carry numbers as text; anything else stays as it is, for the rule to refuse. */
export function numberFrom(value: unknown): unknown {
  return typeof value === 'string' && /^\s*\d{1,9}\s*$/.test(value) ? Number(value) : value
}

const isLeap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
const daysIn = (year: number, month: number) => (month === 2 ? (isLeap(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31)

/**
 * A wall-clock `YYYY-MM-DDTHH:MM:SS` from parts, or undefined when they name no real day and time
 * from 1900-01-02 to 9999-12-30: the entries' range (1900–9999 in UTC) less a day at each end, so
 * that no zone's offset (at most about 15 hours) can move the instant out of it.
 */
export function wallClock(year: number, month: number, day: number, hour: number, minute: number, second = 0): string | undefined {
  if (!(year >= 1900 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month))) return undefined
  if (!(hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 59)) return undefined
  const two = (n: number) => String(n).padStart(2, '0')
  const local = `${year}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}:${two(second)}`
  return local >= '1900-01-02' && local < '9999-12-31' ? local : undefined
}

/** `13:48`, `1:48 pm`, `11:54 PM`, `12:05 a.m.`, with optional seconds → [hour, minute, second]. */
export function clockTime(value: string): [number, number, number] | undefined {
  const m = /^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([ap])\.?\s*m\.?)?\s*$/i.exec(value)
  if (!m) return undefined
  let hour = Number(m[1])
  const meridiem = m[4]?.toLowerCase()
  if (meridiem) {
    if (hour < 1 || hour > 12) return undefined
    hour = (hour % 12) + (meridiem === 'p' ? 12 : 0)
  }
  const minute = Number(m[2])
  const second = Number(m[3] ?? 0)
  if (hour > 23 || minute > 59 || second > 59) return undefined
  return [hour, minute, second]
}

/**
 * The longest physical line read: far beyond any entry (10,000 characters, each at most 4 bytes
 * of UTF-8, or 12 as a JSON escape of a surrogate pair), so only a broken file reaches it.
 */
export const MAX_LINE_BYTES = 1024 * 1024

/**
 * The physical lines of a byte stream, each with its line end, decoded as strict UTF-8: a line
 * that is not UTF-8 (never stored as U+FFFD) or is longer than MAX_LINE_BYTES makes the file
 * unreadable, naming the line. Split on the byte 0x0A, which is never part of a multi-byte UTF-8
 * sequence, so every byte is searched once however long a line is; a leading BOM is dropped.
 * Iterating the stream itself makes an error of the stream, such as the size limit, the error of the loop.
 */
export async function* utf8Lines(input: Readable): AsyncGenerator<string> {
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  let line = 0
  const decode = (bytes: Buffer): string => {
    line += 1
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch {
      throw new UnreadableFile(`Line ${line} is not UTF-8 text: save the file as UTF-8 and import it again.`)
    }
    return line === 1 && text.startsWith('\uFEFF') ? text.slice(1) : text
  }
  let pending: Buffer[] = []
  let pendingBytes = 0
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    let start = 0
    for (let end = bytes.indexOf(10, start); end !== -1; end = bytes.indexOf(10, start)) {
      const piece = bytes.subarray(start, end + 1)
      if (pendingBytes + piece.length > MAX_LINE_BYTES + 1) throw lineTooLong(line + 1)
      yield decode(pending.length > 0 ? Buffer.concat([...pending, piece]) : piece)
      pending = []
      pendingBytes = 0
      start = end + 1
    }
    if (start < bytes.length) {
      pending.push(bytes.subarray(start))
      pendingBytes += bytes.length - start
      if (pendingBytes > MAX_LINE_BYTES) throw lineTooLong(line + 1)
    }
  }
  if (pendingBytes > 0) yield decode(Buffer.concat(pending))
}

function lineTooLong(line: number): UnreadableFile {
  return new UnreadableFile(`Line ${line} is longer than ${MAX_LINE_BYTES} bytes: this is not an export of a journal.`)
}

/** The lines of a UTF-8 stream (LF or CRLF), without their line ends (see utf8Lines). */
export async function* linesOf(input: Readable): AsyncGenerator<string> {
  for await (const line of utf8Lines(input)) {
    yield line.endsWith('\r\n') ? line.slice(0, -2) : line.endsWith('\n') ? line.slice(0, -1) : line
  }
}
