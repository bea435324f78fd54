import type { Queryable } from '../../src/db/index.js'

/** Every entry of the user as the API would show it, by id, with timestamps to the microsecond. */
export async function storedEntries(db: Queryable, userId: number) {
  const us = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
  return db.query<Record<string, unknown>>(
    `select id, text, mood, category, ${us('occurred_at')} as "occurredAt", ${us('created_at')} as "createdAt",
            ${us('updated_at')} as "updatedAt", version
       from entries where user_id = $1 order by id`,
    [userId],
  )
}

/**
 * 2,500 entries (three export pages) with what tends to break a format: quotes, commas, CRLF and
 * LF newlines, Markdown headings, emoji, edge spaces, 10,000-character texts, microseconds,
 * edited entries (version > 1, updated later than created).
 */
export async function seedJournal(db: Queryable, userId: number, count = 2500): Promise<void> {
  await db.query(
    `insert into entries (user_id, text, mood, category, occurred_at, created_at, updated_at, version)
     select $1,
            case i % 6
              when 0 then format('Day %s: "quoted", comma, back\\slash
# not a heading', i)
              when 1 then 'Grüße, 今日は良い日 🎉 #' || i
              when 2 then repeat('x', 10000)
              when 3 then ' edge spaces ' || chr(13) || chr(10) || 'crlf'
              when 4 then '=@SUM(A1)'
              else 'entry ' || i
            end,
            1 + i % 10,
            (array['work', 'Family, time', 'Sport "quoted"', 'ünïcödé', 'a-category-of-exactly-fifty-characters-long-abcdef', 'x'])[1 + i % 6],
            timestamptz '2023-01-01 00:00:00.123456+05:30' + i * interval '7 hours 13 minutes 0.000789 seconds',
            timestamptz '2023-06-01 12:00:00.000001Z' + i * interval '1 second 0.5 ms',
            timestamptz '2023-06-01 12:00:00.000001Z' + i * interval '1 second 0.5 ms' + (i % 3) * interval '1 day 0.000007 seconds',
            1 + i % 3
       from generate_series(1, $2::int) as i`,
    [userId, count],
  )
}
