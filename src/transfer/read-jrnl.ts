/**
 * jrnl's JSON export: `{"tags": {…}, "entries": [{"title", "body", "date", "time", "tags", "starred"}]}`
 * with `date` `YYYY-MM-DD` and `time` `HH:MM` on the wall clock, read in the import's zone.
 */
import type { Readable } from 'node:stream'
import { checkRow, clockTime, UnreadableFile, wallClock, type Candidate, type ReaderOptions } from './rows.js'

/** The last line of a starred entry's text: moodlog has no star of its own. */
const STARRED = 'Starred'

/** The whole file as strict UTF-8 text (not U+FFFD in place of bytes that are not), without a BOM. */
async function readAll(input: Readable): Promise<string> {
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  let text = ''
  try {
    for await (const chunk of input)
      text += utf8.decode(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer), { stream: true })
    return text + utf8.decode()
  } catch (error) {
    if (error instanceof TypeError) throw new UnreadableFile('The file is not UTF-8 text: save it as UTF-8 and import it again.')
    throw error
  }
}

/**
 * One candidate per entry, `line` being its 1-based position in `entries`. The title and body
 * become the text (title, a line break, body), the first tag the category (without jrnl's `@`;
 * `jrnl` when untagged), `defaultMood` the mood. A starred entry's text ends with a blank line and
 * the line `Starred` (as Daylio's activities are kept in the text), so the star survives and can
 * be searched for. One JSON document cannot be read a line at a time: it is read whole, within
 * the import's size limit.
 */
export async function* readJrnl(input: Readable, options: ReaderOptions): AsyncGenerator<Candidate> {
  let document: unknown
  try {
    document = JSON.parse(await readAll(input))
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error
    throw new UnreadableFile('The file is not valid JSON.')
  }
  const entries = (document as { entries?: unknown } | null)?.entries
  if (typeof document !== 'object' || document === null || !Array.isArray(entries)) {
    throw new UnreadableFile('This is not a jrnl JSON export: it must be an object with an `entries` array.', [
      { field: 'entries', message: 'must be an array' },
    ])
  }
  for (const [i, entry] of entries.entries()) {
    const line = i + 1
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      yield { line, errors: [{ field: '(entry)', message: 'must be an object' }] }
      continue
    }
    const { title = '', body = '', date, time, tags, starred = false } = entry as Record<string, unknown>
    const errors: Array<{ field: string; message: string }> = []
    if (typeof title !== 'string') errors.push({ field: 'title', message: 'must be a string' })
    if (typeof body !== 'string') errors.push({ field: 'body', message: 'must be a string' })
    const day = typeof date === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(date) : null
    if (!day) errors.push({ field: 'date', message: 'must be a date like 2024-05-01' })
    const clock = typeof time === 'string' ? clockTime(time) : undefined
    if (!clock) errors.push({ field: 'time', message: 'must be a time like 18:30' })
    const localAt = day && clock ? wallClock(Number(day[1]), Number(day[2]), Number(day[3]), ...clock) : undefined
    if (day && clock && !localAt) errors.push({ field: 'date', message: 'is not a real date from 1900-01-02 to 9999-12-30' })
    if (tags !== undefined && !(Array.isArray(tags) && tags.every((tag) => typeof tag === 'string'))) {
      errors.push({ field: 'tags', message: 'must be a list of strings' })
    }
    if (typeof starred !== 'boolean') errors.push({ field: 'starred', message: 'must be true or false' })
    if (errors.length > 0 || !localAt) {
      yield { line, errors }
      continue
    }
    const firstTag = (tags as string[] | undefined)?.[0]?.replace(/^[@#]/, '')
    const parts = [`${title as string}\n${body as string}`.trim()].filter(Boolean)
    if (starred === true) parts.push(STARRED)
    const text = parts.join('\n\n')
    yield checkRow(line, { text, mood: options.defaultMood, category: firstTag || 'jrnl' }, { localAt }, { text: 'body', category: 'tags' })
  }
}
