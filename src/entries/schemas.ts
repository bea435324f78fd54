import { Type, type Static } from 'typebox'
import { CATEGORY_MAX, INSTANT_MAX, INSTANT_MIN } from './rules.js'

/**
 * RFC 3339 date-time with a mandatory offset. `format` checks the calendar; the pattern narrows the
 * shape (offset `±hh:mm` within ±15:59, at most 9 fraction digits), and src/entries/rules.ts checks
 * the rest: INSTANT_MIN..INSTANT_MAX in UTC, no leap second, nothing finer than milliseconds.
 */
const INSTANT_PATTERN = '^(?!0000)\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?([Zz]|[+-](0\\d|1[0-5]):[0-5]\\d)$'
const RANGE = `between ${INSTANT_MIN} and ${INSTANT_MAX}, at most millisecond precision`
const instant = (description: string) =>
  Type.String({ format: 'date-time', pattern: INSTANT_PATTERN, description: `${description} ${RANGE}.` })
export const Instant = instant('RFC 3339 date-time with an offset, e.g. 2024-05-01T18:30:00+02:00; defaults to now;')

export const Text = Type.String({ minLength: 1, maxLength: 10_000, description: '1 to 10,000 characters; no NUL.' })
export const Mood = Type.Integer({ minimum: 1, maximum: 10 })
/**
 * 1–50 characters once trimmed, in the schema's own terms: a non-space character, then up to 48 of
 * any, then a non-space one, with any whitespace around (JSON Schema patterns count code points).
 */
const categoryOf = (description: string) =>
  Type.String({ minLength: 1, pattern: `^\\s*\\S(?:[\\s\\S]{0,${CATEGORY_MAX - 2}}\\S)?\\s*$`, description })
export const Category = categoryOf(`1 to ${CATEGORY_MAX} characters after trimming (surrounding whitespace is removed).`)

export const CreateEntryBody = Type.Object(
  { text: Text, mood: Mood, category: Category, occurredAt: Type.Optional(Instant) },
  { additionalProperties: false },
)
export type CreateEntryBody = Static<typeof CreateEntryBody>

export const PatchEntryBody = Type.Object(
  {
    text: Type.Optional(Text),
    mood: Type.Optional(Mood),
    category: Type.Optional(Category),
    occurredAt: Type.Optional(Instant),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type PatchEntryBody = Static<typeof PatchEntryBody>

export const Entry = Type.Object({
  id: Type.Integer(),
  text: Type.String(),
  mood: Type.Integer(),
  category: Type.String(),
  occurredAt: Type.String({ format: 'date-time' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  version: Type.Integer({ description: 'Increases with every change; the ETag is derived from it.' }),
})
export type EntryJson = Static<typeof Entry>

/** Ids are 1 to 15 digits: always a safe JS integer, never a 500 from an int8 overflow. */
export const EntryParams = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,14}$', description: 'Entry id' }) })

export const CreateHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7E]+$',
      description: 'Visible ASCII, up to 255 characters; kept 24 hours per user.',
    }),
  ),
})
export const ReadHeaders = Type.Object({ 'if-none-match': Type.Optional(Type.String()) })
export const WriteHeaders = Type.Object({ 'if-match': Type.Optional(Type.String()), 'if-none-match': Type.Optional(Type.String()) })

export const MAX_PAGE = 1_000_000
export const DEFAULT_LIMIT = 20

export const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_LIMIT })),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
        description: '`nextCursor` of the previous page, sent with the same filters.',
      }),
    ),
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, description: 'Offset pages (1-based); not with `cursor`.' })),
    category: Type.Optional(categoryOf(`Case-insensitive equality with the trimmed value (1 to ${CATEGORY_MAX} characters).`)),
    moodMin: Type.Optional(Mood),
    moodMax: Type.Optional(Mood),
    from: Type.Optional(instant('occurredAt >= from (inclusive); RFC 3339 with an offset,')),
    to: Type.Optional(instant('occurredAt < to (exclusive); RFC 3339 with an offset,')),
    q: Type.Optional(
      Type.String({ minLength: 1, maxLength: 500, description: 'Full-text search (web search syntax: "phrase", or, -not).' }),
    ),
  },
  { additionalProperties: false },
)
export type ListQuery = Static<typeof ListQuery>

export const EntryPage = Type.Object({
  items: Type.Array(Entry),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
  total: Type.Integer({ description: 'Entries matching the filters.' }),
  page: Type.Optional(Type.Integer()),
  totalPages: Type.Optional(Type.Integer()),
})
export type EntryPage = Static<typeof EntryPage>
