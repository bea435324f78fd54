import { Type, type Static } from 'typebox'
import { EXPORT_FORMATS } from './export.js'

const Tz = (description: string) => Type.String({ minLength: 1, maxLength: 64, description })

export const ExportQuery = Type.Object(
  {
    format: Type.Enum([...EXPORT_FORMATS], {
      default: 'ndjson',
      description:
        '`ndjson`: a header line `{"format":"moodlog","version":1,"exportedAt":…}`, then one entry per line. ' +
        '`csv`: RFC 4180 with a header row. `markdown`: one section per local day (in `tz`).',
    }),
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
