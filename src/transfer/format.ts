/**
 * The NDJSON format of `moodlog export` and `moodlog import`: one entry per line,
 * `{ text, mood, category, occurredAt, createdAt, updatedAt }`, timestamps RFC 3339 in UTC with
 * microseconds (what Postgres keeps), so an export imported elsewhere is identical to the source.
 */
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { Type, type Static } from 'typebox'
import { Category, Instant, Mood, Text } from '../entries/schemas.js'
import { fieldErrors } from '../http/validation.js'

/** Operator-facing failure with the process exit code it maps to (sysexits: 65 = bad input data). */
export class TransferError extends Error {
  override name = 'TransferError'
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}

/** The API's field rules; the timestamps are optional so hand-written files can leave them out. */
export const EntryLine = Type.Object(
  {
    /** The id in the exporting journal; the importing one assigns its own. */
    id: Type.Optional(Type.Integer({ minimum: 1 })),
    text: Text,
    mood: Mood,
    category: Category,
    occurredAt: Type.Optional(Instant),
    createdAt: Type.Optional(Instant),
    updatedAt: Type.Optional(Instant),
    version: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
  },
  { additionalProperties: false },
)
export type EntryLine = Static<typeof EntryLine>

const MAX_CATEGORY = 50

const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false })
addFormats.default(ajv)
const validateShape = ajv.compile<EntryLine>(EntryLine)

/**
 * Parses and checks one line as `POST /entries` would (the schema, then what a schema cannot say:
 * no NUL, well-formed Unicode, category 1–50 characters after trimming). Returns the entry with its
 * category trimmed, or throws `TransferError` naming the line.
 */
export function parseEntryLine(line: string, lineNumber: number): EntryLine {
  const fail = (problem: string) => new TransferError(`line ${lineNumber}: ${problem}`, 65)
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    throw fail('not valid JSON')
  }
  if (!validateShape(value)) {
    throw fail(
      fieldErrors(validateShape.errors ?? [], 'body')
        .map((e) => `${e.field} ${e.message}`)
        .join('; '),
    )
  }
  for (const field of ['text', 'category'] as const) {
    if (value[field].includes('\u0000')) throw fail(`${field} must not contain NUL characters`)
    if (/\p{Surrogate}/u.test(value[field])) throw fail(`${field} must be well-formed Unicode (no lone surrogates)`)
  }
  const category = value.category.trim()
  const length = [...category].length
  if (length < 1 || length > MAX_CATEGORY) throw fail(`category must be 1 to ${MAX_CATEGORY} characters after trimming`)
  return { ...value, category }
}
