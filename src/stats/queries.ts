import type { Queryable } from '../db/index.js'
import type { Bucket } from './schemas.js'

export interface StatsWindow {
  userId: number
  bucket: Bucket
  /** A name from `pg_timezone_names`: never a raw client value that Postgres might reject. */
  tz: string
  /** RFC 3339 instants already checked to parse; null = unbounded. */
  from: string | null
  to: string | null
}

/** One row per grouping set: `set` 1 = a bucket, 2 = a category, 3 = the overall total. */
export interface WindowRow {
  set: 1 | 2 | 3
  start: string | null
  category: string | null
  count: number
  average: number | null
  min: number | null
  max: number | null
}

/** Every zone name Postgres accepts for AT TIME ZONE (reads the tz database: call once, keep the result). */
export async function timeZoneNames(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ name: string }>('select name from pg_timezone_names')
  return rows.map((row) => row.name)
}

/**
 * Buckets, categories and the total in one scan of the window, through grouping sets.
 * Local time is `occurred_at AT TIME ZONE tz` (a timestamp without zone), so date_trunc cuts at
 * local midnights, local Mondays and local 1sts whatever the DST offset was that day.
 * The bounds default to ±infinity rather than `$n is null or …` so the range stays sargable on
 * (user_id, occurred_at). avg() of smallint is numeric: rounded, then float8 to arrive as a number.
 */
export async function windowStats(db: Queryable, w: StatsWindow): Promise<WindowRow[]> {
  return db.query<WindowRow>(
    `select grouping(local_bucket, category) as set,
            to_char(local_bucket, 'YYYY-MM-DD') as start,
            category,
            count(*) as count,
            round(avg(mood), 2)::float8 as average,
            min(mood)::int as min,
            max(mood)::int as max
       from (select date_trunc($2::text, occurred_at at time zone $3::text) as local_bucket, category, mood
               from entries
              where user_id = $1
                and occurred_at >= coalesce($4::timestamptz, '-infinity')
                and occurred_at < coalesce($5::timestamptz, 'infinity')) windowed
      group by grouping sets ((local_bucket), (category), ())
      order by set, local_bucket, count(*) desc, category collate "C"`,
    [w.userId, w.bucket, w.tz, w.from, w.to],
  )
}

export interface Streaks {
  current: number
  longest: number
}

/**
 * Gaps and islands over the user's distinct local days up to today: consecutive days share
 * `day - row_number()`, so each island is one group. The current streak is the island ending
 * today or yesterday (at most one can). Future-dated entries are left out: a streak cannot
 * run ahead of the calendar.
 */
export async function dayStreaks(db: Queryable, userId: number, tz: string): Promise<Streaks> {
  const rows = await db.query<Streaks>(
    `with today as (
       select (now() at time zone $2::text)::date as day
     ), days as (
       select distinct (occurred_at at time zone $2::text)::date as day
         from entries
        where user_id = $1
     ), islands as (
       select max(day) as last_day, count(*) as length
         from (select day, day - (row_number() over (order by day))::int as island
                 from days
                where day <= (select day from today)) numbered
        group by island
     )
     select coalesce(max(length) filter (where last_day >= (select day from today) - 1), 0) as current,
            coalesce(max(length), 0) as longest
       from islands`,
    [userId, tz],
  )
  return rows[0]!
}
