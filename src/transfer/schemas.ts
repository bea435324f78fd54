import { Type, type Static } from 'typebox'
import { EXPORT_FORMATS } from './export.js'
import { IMPORT_FORMATS, MAX_REPORTED_PROBLEMS } from './import.js'

const Tz = (description: string) => Type.String({ minLength: 1, maxLength: 64, description })

export const ExportQuery = Type.Object(
  {
    format: Type.Optional(
      Type.Enum([...EXPORT_FORMATS], {
        default: 'ndjson',
        description:
          '`ndjson`: a header line `{"format":"moodlog","version":1,"exportedAt":…}`, then one entry per line. ' +
          '`csv`: RFC 4180 with a header row. `markdown`: one section per local day (in `tz`).',
      }),
    ),
    tz: Type.Optional(Tz('IANA time zone of the Markdown export’s days and times; default UTC. Matched case-insensitively.')),
  },
  { additionalProperties: false },
)
export type ExportQuery = Static<typeof ExportQuery>

const text = Type.String({ description: 'The export file, streamed.' })

export const ExportResponse = {
  description: 'The journal as a file (`Content-Disposition: attachment; filename=moodlog-<date>.<ext>`).',
  content: {
    'application/x-ndjson': { schema: text },
    'text/csv': { schema: text },
    'text/markdown': { schema: text },
  },
}

const Flag = (description: string) => Type.Optional(Type.Boolean({ default: false, description }))

export const ImportQuery = Type.Object(
  {
    format: Type.Optional(
      Type.Enum([...IMPORT_FORMATS], {
        description:
          '`moodlog`: NDJSON as exported (`application/x-ndjson`). `csv`: moodlog CSV as exported (`text/csv`). ' +
          '`daylio`: a Daylio CSV export (`text/csv`; needs `tz`). `jrnl`: a jrnl JSON export (`application/json`; needs `defaultMood`). ' +
          'Default: moodlog for NDJSON, csv for CSV, jrnl for JSON.',
      }),
    ),
    dryRun: Flag('Check and count everything, write nothing: the answer is the report the import would give.'),
    skipInvalid: Flag('Import the valid rows even when some are invalid (they are listed in the report).'),
    notify: Flag('Send an `entry.created` webhook event for each imported entry (off by default: an import is not news).'),
    moodMap: Type.Optional(
      Type.String({
        minLength: 2,
        maxLength: 4096,
        description:
          'Daylio: a JSON object from mood label to mood 1–10, e.g. `{"great":9,"fine":6}`, over the defaults ' +
          'rad=10, good=8, meh=5, bad=3, awful=1 (labels match case-insensitively).',
      }),
    ),
    defaultMood: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'jrnl (required): the mood of every entry.' })),
    tz: Type.Optional(Tz('Daylio (required) and jrnl (default UTC): IANA zone of the wall-clock dates and times in the file.')),
  },
  { additionalProperties: false },
)
export type ImportQuery = Static<typeof ImportQuery>

const file = (description: string) => ({ schema: { description } })

/** The body is the file itself, streamed (no JSON wrapping). */
export const ImportBody = {
  content: {
    'application/x-ndjson': file('A moodlog NDJSON export.'),
    'text/csv': file('A moodlog CSV export or a Daylio CSV export.'),
    'application/json': file('A jrnl JSON export.'),
  },
}

export const ImportReport = Type.Object({
  created: Type.Integer({ minimum: 0, description: 'Entries written (dry run: that would be written).' }),
  skipped: Type.Integer({
    minimum: 0,
    description: 'Valid rows already in the journal (same occurredAt, text, mood and category) or repeated in the file.',
  }),
  invalid: Type.Array(
    Type.Object({
      line: Type.Integer({ description: 'Line of the file where the row starts (jrnl: the entry’s position in `entries`, from 1).' }),
      field: Type.String(),
      message: Type.String(),
    }),
    { description: `Problems of invalid rows, in file order (at most ${MAX_REPORTED_PROBLEMS}).` },
  ),
  invalidCount: Type.Integer({ minimum: 0, description: 'Rows with at least one problem.' }),
})
