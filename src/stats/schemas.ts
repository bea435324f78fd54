import { Type, type Static } from 'typebox'

export const BUCKETS = ['day', 'week', 'month'] as const
export type Bucket = (typeof BUCKETS)[number]

const Instant = (description: string) => Type.String({ format: 'date-time', maxLength: 40, description })

export const StatsQuery = Type.Object(
  {
    from: Type.Optional(
      Instant('Inclusive lower bound, RFC 3339 with offset (`2026-03-01T00:00:00-05:00`). Default: the beginning of time.'),
    ),
    to: Type.Optional(Instant('Exclusive upper bound, RFC 3339 with offset. Default: no upper bound. Must not be before `from`.')),
    bucket: Type.Optional(
      Type.Enum([...BUCKETS], {
        type: 'string',
        default: 'day',
        description: 'Size of the buckets: local days, ISO weeks (starting Monday) or calendar months.',
      }),
    ),
    tz: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        default: 'UTC',
        description: 'IANA time zone (`Europe/Berlin`) that decides local days, weeks and months. Matched case-insensitively.',
      }),
    ),
  },
  { additionalProperties: false },
)
export type StatsQuery = Static<typeof StatsQuery>

const Average = Type.Number({ description: 'Mean mood, rounded to 2 decimals (half away from zero).' })
const Count = Type.Integer({ minimum: 0, description: 'Number of entries.' })
const Mood = Type.Integer({ minimum: 1, maximum: 10 })

export const BucketStats = Type.Object({
  start: Type.String({
    format: 'date',
    description: 'Local date (in `tz`) on which the bucket starts: the day, its Monday, or the 1st of the month.',
  }),
  count: Count,
  average: Average,
  min: Mood,
  max: Mood,
})

export const CategoryStats = Type.Object({
  category: Type.String({ description: 'Category exactly as stored (grouping is case-sensitive).' }),
  count: Count,
  average: Average,
})

export const Stats = Type.Object({
  tz: Type.String({ description: 'The time zone used, in its canonical spelling.' }),
  bucket: Type.Enum([...BUCKETS], { type: 'string' }),
  from: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'As requested; null = unbounded.' }),
  to: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'As requested; null = unbounded.' }),
  overall: Type.Object(
    {
      count: Count,
      average: Type.Union([Average, Type.Null()]),
      min: Type.Union([Mood, Type.Null()]),
      max: Type.Union([Mood, Type.Null()]),
    },
    { description: 'Every entry in [from, to); average, min and max are null when there is none.' },
  ),
  buckets: Type.Array(BucketStats, { description: 'Buckets in [from, to) that have entries, oldest first.' }),
  categories: Type.Array(CategoryStats, { description: 'Categories in [from, to), most entries first, then by name.' }),
  streaks: Type.Object(
    {
      current: Type.Integer({
        minimum: 0,
        description: 'Consecutive local days with an entry, ending today or, while today has none yet, yesterday; otherwise 0.',
      }),
      longest: Type.Integer({ minimum: 0, description: 'Longest run of consecutive local days with an entry.' }),
    },
    {
      description: "Over all of the user's entries, whatever `from` and `to` say; entries dated after today (in `tz`) do not count.",
    },
  ),
})
export type Stats = Static<typeof Stats>
