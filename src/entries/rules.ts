/**
 * The rules an entry's fields follow wherever an entry comes from (the API, an import): one
 * definition, so that whatever passes here can be stored, and whatever is stored can be read back.
 * Every check takes an unknown value and answers `{ value }` (normalised: category trimmed) or
 * `{ errors: [{ field, message }] }`; nothing here throws or touches the database.
 */
import type { FieldError } from '../http/errors.js'
import { unsafeStringProblem } from '../http/unsafe-string.js'

export const TEXT_MAX = 10_000
export const CATEGORY_MAX = 50
export const MOOD_MIN = 1
export const MOOD_MAX = 10

/**
 * The instants an entry may carry, both ends included: every one of them is written as RFC 3339
 * with a four-digit year in UTC and read back unchanged by Postgres and by JavaScript (which reads
 * years 0–49 as 2000–2049 in Postgres' output format, and cannot name years past 9999 in RFC 3339).
 * Migration 005 holds existing rows to the same range with a CHECK constraint.
 */
export const INSTANT_MIN = '1900-01-01T00:00:00.000Z'
export const INSTANT_MAX = '9999-12-31T23:59:59.999Z'
const MIN_MS = Date.parse(INSTANT_MIN)
const MAX_MS = Date.parse(INSTANT_MAX)

export type Checked<T> = { value: T; errors?: undefined } | { value?: undefined; errors: FieldError[] }

const ok = <T>(value: T): Checked<T> => ({ value })
const problem = <T>(field: string, message: string): Checked<T> => ({ errors: [{ field, message }] })

/** Any string that will be bound into SQL: only the NUL and lone-surrogate rule. */
export function checkSafeString(value: unknown, field: string): Checked<string> {
  if (typeof value !== 'string') return problem(field, 'must be a string')
  const unsafe = unsafeStringProblem(value)
  return unsafe ? problem(field, unsafe) : ok(value)
}

/** Length in characters (code points), as JSON Schema's maxLength and Postgres' char_length count them. */
const characters = (value: string) => [...value].length

export function checkText(value: unknown, field = 'text'): Checked<string> {
  const safe = checkSafeString(value, field)
  if (safe.errors) return safe
  const length = characters(safe.value)
  if (length < 1 || length > TEXT_MAX) return problem(field, `must be 1 to ${TEXT_MAX.toLocaleString('en')} characters`)
  return safe
}

/** A category, trimmed: 1 to 50 characters after trimming. */
export function checkCategory(value: unknown, field = 'category'): Checked<string> {
  const safe = checkSafeString(value, field)
  if (safe.errors) return safe
  const category = safe.value.trim()
  const length = characters(category)
  if (length < 1 || length > CATEGORY_MAX) return problem(field, `must be 1 to ${CATEGORY_MAX} characters after trimming`)
  return ok(category)
}

export function checkMood(value: unknown, field = 'mood'): Checked<number> {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MOOD_MIN || value > MOOD_MAX) {
    return problem(field, `must be an integer from ${MOOD_MIN} to ${MOOD_MAX}`)
  }
  return ok(value)
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/

const isLeap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
const daysInMonth = (year: number, month: number) => (month === 2 ? (isLeap(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31)

export interface InstantOptions {
  /**
   * Fraction digits kept: 3 for the API (its JSON carries milliseconds), 6 for formats that carry
   * microseconds as Postgres keeps them. Non-zero digits past this would not come back: refused.
   */
  fractionDigits?: 3 | 6
}

/**
 * An RFC 3339 date-time with an offset that names a real moment (calendar checked; no leap second
 * `:60`, which Postgres would roll into the next minute), with an offset Postgres accepts (within
 * ±15:59), no more precision than is kept, and within INSTANT_MIN..INSTANT_MAX once in UTC.
 * The value is returned as given: Postgres parses it exactly (`$n::text::timestamptz`).
 */
export function checkInstant(value: unknown, field = 'occurredAt', options: InstantOptions = {}): Checked<string> {
  const parsed = typeof value === 'string' ? parseInstant(value, options.fractionDigits ?? 3) : INVALID_INSTANT
  return typeof parsed === 'number' ? ok(value as string) : problem(field, parsed)
}

/** Milliseconds since the epoch of an instant that passed `checkInstant` (NaN for any other string). */
export function instantMillis(value: string): number {
  const parsed = parseInstant(value, 6)
  return typeof parsed === 'number' ? parsed : Number.NaN
}

const INVALID_INSTANT = 'must be an RFC 3339 date-time with an offset, e.g. 2024-05-01T18:30:00+02:00'

/** Epoch milliseconds, or what is wrong. */
function parseInstant(value: string, digits: 3 | 6): number | string {
  const m = RFC3339.exec(value)
  if (!m) return INVALID_INSTANT
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const [fraction = '', sign, offsetHours = '0', offsetMinutes = '0'] = m.slice(7)
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
    return INVALID_INSTANT
  if (Number(offsetHours) > 15 || Number(offsetMinutes) > 59) return INVALID_INSTANT
  if (/[1-9]/.test(fraction.slice(digits))) {
    return `must have at most ${digits} fraction digits (${digits === 3 ? 'milliseconds' : 'microseconds'})`
  }
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
  const at = new Date(0)
  at.setUTCFullYear(year, month - 1, day)
  at.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, '0')))
  const offset = (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000
  const utc = at.getTime() - offset
  // Microseconds past the last millisecond of 9999 are past the end too.
  const pastEnd = utc > MAX_MS || (utc === MAX_MS && /[1-9]/.test(fraction.slice(3)))
  if (utc < MIN_MS || pastEnd) return `must be between ${INSTANT_MIN} and ${INSTANT_MAX}`
  return utc
}

export interface EntryFields {
  text: string
  mood: number
  category: string
  /** RFC 3339 with an offset, as given; absent: now. */
  occurredAt?: string
}

export interface EntryOptions extends InstantOptions {
  /** Prepended to field names (e.g. `entries.3.`), for formats that hold many entries. */
  prefix?: string
}

const CHECKS = { text: checkText, mood: checkMood, category: checkCategory } as const

function checkFields(input: unknown, required: boolean, options: EntryOptions): Checked<Partial<EntryFields>> {
  const prefix = options.prefix ?? ''
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return problem(prefix || '(root)', 'must be an object')
  const record = input as Record<string, unknown>
  const errors: FieldError[] = []
  const value: Partial<EntryFields> = {}
  for (const [name, check] of Object.entries(CHECKS) as Array<[keyof typeof CHECKS, (v: unknown, f: string) => Checked<never>]>) {
    if (record[name] === undefined) {
      if (required) errors.push({ field: prefix + name, message: 'is required' })
      continue
    }
    const result = check(record[name], prefix + name)
    if (result.errors) errors.push(...result.errors)
    else value[name] = result.value
  }
  if (record.occurredAt !== undefined) {
    const result = checkInstant(record.occurredAt, `${prefix}occurredAt`, options)
    if (result.errors) errors.push(...result.errors)
    else value.occurredAt = result.value
  }
  return errors.length > 0 ? { errors } : ok(value)
}

/**
 * A whole new entry (`text`, `mood`, `category`, optional `occurredAt`): the normalised fields, or
 * every problem found. Other properties of `input` are ignored (callers decide what else a format holds).
 */
export function checkEntry(input: unknown, options: EntryOptions = {}): Checked<EntryFields> {
  return checkFields(input, true, options) as Checked<EntryFields>
}

/** A partial change: the same rules for the fields present. */
export function checkEntryChange(input: unknown, options: EntryOptions = {}): Checked<Partial<EntryFields>> {
  return checkFields(input, false, options)
}
