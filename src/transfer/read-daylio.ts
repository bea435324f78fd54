/**
 * Daylio's CSV export. Current files: `full_date,date,weekday,time,mood,activities,note_title,note`
 * (newer ones add `scales`); older ones: `year,date,weekday,time,mood,activities,note` with a date
 * like `18 May`. Times are wall-clock (`11:54 pm`, `13:48`), read in the import's zone.
 */
import type { Readable } from 'node:stream'
import { csvRecords } from './read-moodlog.js'
import { checkRow, clockTime, UnreadableFile, wallClock, type Candidate, type ReaderOptions } from './rows.js'

const CURRENT = ['full_date', 'date', 'weekday', 'time', 'mood', 'activities', 'note_title', 'note']
const OLDER = ['year', 'date', 'weekday', 'time', 'mood', 'activities', 'note']
const OPTIONAL = new Set(['scales'])

/** An unreadable file's answer names at most this many unknown labels, and counts the rest. */
export const MAX_NAMED_LABELS = 100

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** `18 May`, `May 18`, `18. Mai` is not English: undefined. */
function dayAndMonth(value: string): [number, number] | undefined {
  const m = /^\s*(?:(\d{1,2})\.?\s+([A-Za-z]+)\.?|([A-Za-z]+)\.?\s+(\d{1,2}))\s*$/.exec(value)
  if (!m) return undefined
  const day = Number(m[1] ?? m[4])
  const month = MONTHS.indexOf((m[2] ?? m[3])!.slice(0, 3).toLowerCase()) + 1
  return month > 0 ? [day, month] : undefined
}

/** Daylio notes may carry a little HTML (line breaks, bold, lists): kept as plain text. */
function plainText(value: string): string {
  return value
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/?(?:b|i|u|s|em|strong|strike|ul|ol|li|p|div|span)>/gi, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .trim()
}

function header(values: string[]): Map<string, number> {
  const names = values.map((name) => name.trim().toLowerCase())
  const index = new Map(names.map((name, i) => [name, i]))
  const layout = index.has('full_date') ? CURRENT : OLDER
  const missing = layout.filter((name) => !index.has(name))
  const unknown = names.filter((name) => !CURRENT.includes(name) && !OLDER.includes(name) && !OPTIONAL.has(name))
  if (missing.length > 0 || unknown.length > 0) {
    throw new UnreadableFile(`This is not a Daylio CSV export: its header must be ${CURRENT.join(',')} (or ${OLDER.join(',')}).`, [
      ...missing.map((name) => ({ field: `header.${name}`, message: 'is required' })),
      ...unknown.map((name) => ({ field: `header.${name}`, message: 'is not a Daylio column' })),
    ])
  }
  return index
}

/**
 * One candidate per entry. The mood label maps through `moodLabels` (a label it does not know is
 * collected, and the import is refused naming them all, since guessing a mood would be wrong);
 * the first activity becomes the category (`Daylio` when none); the title, the note and a line
 * listing every activity become the text (the mood label alone when all three are empty).
 */
export async function* readDaylio(input: Readable, options: ReaderOptions): AsyncGenerator<Candidate> {
  let columns: Map<string, number> | undefined
  const unknownLabels = new Set<string>()
  for await (const { line, values } of csvRecords(input)) {
    if (!columns) {
      columns = header(values)
      continue
    }
    const cell = (name: string) => {
      const i = columns!.get(name)
      return i === undefined ? '' : (values[i] ?? '')
    }
    const errors: Array<{ field: string; message: string }> = []

    const label = cell('mood').trim()
    const mood = options.moodLabels.get(label.toLowerCase())
    if (mood === undefined) {
      if (label === '') errors.push({ field: 'mood', message: 'is empty' })
      else unknownLabels.add(label)
    }

    let date: [number, number, number] | undefined
    if (columns.has('full_date')) {
      const m = /^\s*(\d{4})-(\d{2})-(\d{2})\s*$/.exec(cell('full_date'))
      if (m) date = [Number(m[1]), Number(m[2]), Number(m[3])]
      else errors.push({ field: 'full_date', message: 'must be a date like 2024-05-01' })
    } else {
      const year = /^\s*\d{4}\s*$/.test(cell('year')) ? Number(cell('year')) : undefined
      const dayMonth = dayAndMonth(cell('date'))
      if (year === undefined) errors.push({ field: 'year', message: 'must be a year like 2018' })
      if (!dayMonth) errors.push({ field: 'date', message: 'must be a day and an English month, like 18 May' })
      if (year !== undefined && dayMonth) date = [year, dayMonth[1], dayMonth[0]]
    }
    const time = clockTime(cell('time'))
    if (!time) errors.push({ field: 'time', message: 'must be a time like 11:54 pm or 13:48' })
    const localAt = date && time ? wallClock(...date, ...time) : undefined
    if (date && time && !localAt)
      errors.push({ field: columns.has('full_date') ? 'full_date' : 'date', message: 'is not a real date from 1900-01-02 to 9999-12-30' })

    const activities = cell('activities')
      .split('|')
      .map((activity) => activity.trim())
      .filter(Boolean)
    const parts = [plainText(cell('note_title')), plainText(cell('note'))].filter(Boolean)
    if (activities.length > 0) parts.push(`Activities: ${activities.join(', ')}`)
    const text = parts.length > 0 ? parts.join('\n\n') : label

    if (errors.length > 0 || mood === undefined || !localAt) {
      if (errors.length > 0) yield { line, errors }
      continue
    }
    yield checkRow(line, { text, mood, category: activities[0] ?? 'Daylio' }, { localAt }, { category: 'activities', text: 'note' })
  }
  if (!columns) throw new UnreadableFile('The CSV file is empty: it needs a header row.')
  if (unknownLabels.size > 0) {
    // Named in full they could make an answer as large as the file: the first ones tell what moodMap needs.
    const labels = [...unknownLabels].sort().slice(0, MAX_NAMED_LABELS)
    const more = unknownLabels.size - labels.length
    throw new UnreadableFile(
      `Unknown Daylio mood labels: ${labels.join(', ')}${more > 0 ? ` and ${more} more` : ''}. Pass moodMap, a JSON object ` +
        `from each label to a mood from 1 to 10 (e.g. moodMap={"${labels[0]}":7}); the default labels are rad, good, meh, ` +
        'bad and awful.',
      labels.map((label) => ({ field: 'query.moodMap', message: `has no mood for the label "${label}"` })),
    )
  }
}
