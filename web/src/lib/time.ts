/**
 * Time in the browser's own zone. Local days are decided exactly as the server decides them for
 * `/stats?tz=`: the calendar date of the instant in the browser's IANA zone.
 */
export const timeZone: string = Intl.DateTimeFormat().resolvedOptions().timeZone

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/** `YYYY-MM-DD` of the local calendar day of an instant. */
export function localDayKey(date: Date): string {
  return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
}

/** RFC 3339 with the local offset, e.g. 2026-12-02T00:00:00+01:00 (what the API's instants require). */
export function toInstant(date: Date): string {
  const offset = -date.getTimezoneOffset()
  const sign = offset >= 0 ? '+' : '-'
  const abs = Math.abs(offset)
  return (
    `${localDayKey(date)}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  )
}

/** Local midnight at the start of `YYYY-MM-DD`. */
export function startOfDay(key: string): Date {
  const [y, m, d] = key.split('-').map(Number) as [number, number, number]
  return new Date(y, m - 1, d)
}

export function addDays(date: Date, days: number): Date {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate() + days)
}

/** Value for `<input type="datetime-local">`: local wall-clock time to the minute. */
export function toDateTimeLocal(date: Date): string {
  return `${localDayKey(date)}T${pad(date.getHours())}:${pad(date.getMinutes())}`
}

/** Back from `<input type="datetime-local">` to an instant; undefined when empty or invalid. */
export function fromDateTimeLocal(value: string): string | undefined {
  if (!value) return undefined
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : toInstant(date)
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' })
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const shortDate = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' })

/** "Today", "Yesterday" or "Tuesday, 1 December 2026". */
export function dayHeading(key: string, now = new Date()): string {
  if (key === localDayKey(now)) return 'Today'
  if (key === localDayKey(addDays(now, -1))) return 'Yesterday'
  return dayFormat.format(startOfDay(key))
}

export function formatTime(instant: string): string {
  return timeFormat.format(new Date(instant))
}

export function formatDate(instant: string | Date): string {
  return shortDate.format(typeof instant === 'string' ? new Date(instant) : instant)
}

export function formatDayKey(key: string, options: Intl.DateTimeFormatOptions): string {
  return new Intl.DateTimeFormat(undefined, options).format(startOfDay(key))
}
