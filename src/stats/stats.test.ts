import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachBackend, type Harness } from '../../test/support/harness.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

/*
 * Every expected value here is computed from the seeded rows in plain JS, with Intl for local
 * dates: an independent model of the statistics, never numbers copied from a response.
 */

interface Seed {
  at: string
  mood: number
  category: string
}

type Bucket = 'day' | 'week' | 'month'

const DAY_MS = 86_400_000

/** Local calendar date (YYYY-MM-DD) of an instant in `tz`, as Intl sees it. */
function localDate(instant: string | number, tz: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(
    new Date(instant),
  )
  const part = (type: string) => parts.find((p) => p.type === type)!.value
  return `${part('year')}-${part('month')}-${part('day')}`
}

const dayNumber = (date: string) => Date.parse(`${date}T00:00:00Z`) / DAY_MS
const dateOf = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10)
const addDays = (date: string, days: number) => dateOf(dayNumber(date) + days)

function bucketStart(date: string, bucket: Bucket): string {
  if (bucket === 'day') return date
  if (bucket === 'month') return `${date.slice(0, 8)}01`
  const day = dayNumber(date)
  const weekday = new Date(day * DAY_MS).getUTCDay() // 0 = Sunday
  return dateOf(day - ((weekday + 6) % 7)) // back to Monday
}

/** Half away from zero to 2 decimals, in integers: no binary floating point surprise at .xx5. */
const average = (sum: number, count: number) => Math.floor((200 * sum + count) / (2 * count)) / 100

function summarize(seeds: Seed[]) {
  const moods = seeds.map((s) => s.mood)
  const sum = moods.reduce((a, b) => a + b, 0)
  return { count: seeds.length, average: average(sum, seeds.length), min: Math.min(...moods), max: Math.max(...moods) }
}

function groupBy(seeds: Seed[], key: (s: Seed) => string): Map<string, Seed[]> {
  const groups = new Map<string, Seed[]>()
  for (const s of seeds) groups.set(key(s), [...(groups.get(key(s)) ?? []), s])
  return groups
}

function expectedStats(seeds: Seed[], options: { tz: string; bucket: Bucket; from?: string; to?: string }) {
  const inWindow = seeds.filter(
    (s) =>
      (options.from === undefined || Date.parse(s.at) >= Date.parse(options.from)) &&
      (options.to === undefined || Date.parse(s.at) < Date.parse(options.to)),
  )
  const buckets = [...groupBy(inWindow, (s) => bucketStart(localDate(s.at, options.tz), options.bucket))]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([start, group]) => ({ start, ...summarize(group) }))
  const categories = [...groupBy(inWindow, (s) => s.category)]
    .map(([category, group]) => ({ category, count: group.length, average: summarize(group).average }))
    .sort((a, b) => b.count - a.count || (a.category < b.category ? -1 : 1))
  const overall = inWindow.length > 0 ? summarize(inWindow) : { count: 0, average: null, min: null, max: null }
  return { buckets, categories, overall }
}

function expectedStreaks(seeds: Seed[], tz: string, today: string) {
  const last = dayNumber(today)
  const days = [...new Set(seeds.map((s) => dayNumber(localDate(s.at, tz))))].filter((d) => d <= last).sort((a, b) => a - b)
  const runEndingAt = new Map<number, number>()
  let longest = 0
  for (const day of days) {
    const run = (runEndingAt.get(day - 1) ?? 0) + 1
    runEndingAt.set(day, run)
    longest = Math.max(longest, run)
  }
  return { current: runEndingAt.get(last) ?? runEndingAt.get(last - 1) ?? 0, longest }
}

/** An instant at local noon of `date` in `tz`: far from both midnights, so a DST hour cannot move it to another day. */
function localNoon(date: string, tz: string): string {
  const guess = Date.parse(`${date}T12:00:00Z`)
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(guess))
  const n = (type: string) => Number(parts.find((p) => p.type === type)!.value)
  const offset = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - guess
  return new Date(guess - offset).toISOString()
}

/** Seeding goes straight to the table: the statistics are what is under test, not POST /entries. */
async function seed(h: Harness, userId: number, seeds: Seed[]): Promise<void> {
  for (const s of seeds) {
    await h.db.query('insert into entries (user_id, text, mood, category, occurred_at) values ($1, $2, $3, $4, $5)', [
      userId,
      `seeded at ${s.at}`,
      s.mood,
      s.category,
      s.at,
    ])
  }
}

/** Entries around DST changes, month, week and year boundaries, with instants written in several offsets. */
const BOUNDARY_SEEDS: Seed[] = [
  // New York springs forward 2026-03-08 02:00 EST → 03:00 EDT.
  { at: '2026-03-07T23:30:00-05:00', mood: 4, category: 'work' }, // Saturday in New York, Sunday in UTC
  { at: '2026-03-08T00:30:00-05:00', mood: 6, category: 'work' },
  { at: '2026-03-08T03:30:00-04:00', mood: 7, category: 'family' },
  { at: '2026-03-08T23:30:00-04:00', mood: 8, category: 'family' }, // Sunday in New York, Monday (next ISO week) in UTC
  { at: '2026-03-09T00:30:00-04:00', mood: 3, category: 'health' },
  // Berlin falls back 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens twice.
  { at: '2026-10-24T23:30:00+02:00', mood: 5, category: 'work' },
  { at: '2026-10-25T00:30:00+02:00', mood: 9, category: 'family' }, // Sunday in Berlin, Saturday in UTC
  { at: '2026-10-25T02:30:00+02:00', mood: 2, category: 'health' },
  { at: '2026-10-25T02:30:00+01:00', mood: 10, category: 'health' },
  { at: '2026-10-25T23:30:00+01:00', mood: 7, category: 'work' },
  { at: '2026-10-26T00:30:00+01:00', mood: 1, category: 'Work' }, // Monday in Berlin, Sunday in UTC; another category
  // Month and year boundaries.
  { at: '2026-01-15T12:00:00Z', mood: 5, category: 'work' },
  { at: '2026-01-31T23:30:00-05:00', mood: 6, category: 'family' }, // January in New York, February in UTC
  { at: '2026-02-01T00:30:00-05:00', mood: 8, category: 'family' },
  { at: '2026-02-28T23:59:59.999-05:00', mood: 9, category: 'travel' }, // February in New York, March in UTC
  { at: '2026-12-31T22:00:00-05:00', mood: 4, category: 'travel' }, // 2026 in New York, 2027 in UTC
  // Eight moods summing to 45: an average of exactly 5.625, which rounds to 5.63.
  ...[5, 5, 5, 5, 5, 5, 5, 10].map((mood, i) => ({ at: `2026-06-0${i + 1}T12:00:00Z`, mood, category: 'rounding' })),
]

const ZONES = ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham']

describeEachBackend('statistics', (h) => {
  const stats = (user: SignedIn, query: Record<string, string> = {}) =>
    h.request({ method: 'GET', url: '/stats', query, headers: user.auth })

  async function seededUser(seeds: Seed[]): Promise<SignedIn> {
    const user = await signUp(h)
    await seed(h, user.id, seeds)
    return user
  }

  test('when entries straddle DST changes and month, week and year boundaries, then every zone and bucket matches the model', async () => {
    const user = await seededUser(BOUNDARY_SEEDS)
    for (const tz of ZONES) {
      for (const bucket of ['day', 'week', 'month'] as const) {
        const res = await stats(user, { tz, bucket })
        assert.equal(res.statusCode, 200, res.body)
        const body = res.json()
        assert.equal(body.tz, tz)
        assert.equal(body.bucket, bucket)
        assert.deepEqual(
          { buckets: body.buckets, categories: body.categories, overall: body.overall },
          expectedStats(BOUNDARY_SEEDS, { tz, bucket }),
          `${tz} ${bucket}`,
        )
      }
    }
  })

  test('when entries sit at local 23:30 and 00:30 around a DST change, then they land on their local day', async () => {
    const user = await seededUser(BOUNDARY_SEEDS)
    const counts = async (tz: string, bucket: Bucket = 'day') =>
      Object.fromEntries((await stats(user, { tz, bucket })).json().buckets.map((b: any) => [b.start, b.count]))

    const newYork = await counts('America/New_York')
    assert.equal(newYork['2026-03-07'], 1)
    assert.equal(newYork['2026-03-08'], 3, '00:30 EST, 03:30 EDT and 23:30 EDT are all March 8 in New York')
    assert.equal(newYork['2026-03-09'], 1)
    const berlin = await counts('Europe/Berlin')
    assert.equal(berlin['2026-10-24'], 1)
    assert.equal(berlin['2026-10-25'], 4, 'the 25-hour day holds 00:30, both 02:30s and 23:30')
    assert.equal(berlin['2026-10-26'], 1)

    // 2026-01-31T23:30-05:00 is January in New York and February in UTC; the rest of January agrees.
    const [nyMonths, utcMonths] = [await counts('America/New_York', 'month'), await counts('UTC', 'month')]
    assert.equal(nyMonths['2026-01-01'], utcMonths['2026-01-01'] + 1)
    assert.equal(nyMonths['2026-12-01'], 1)
    assert.equal(utcMonths['2027-01-01'], 1)
    // Sunday 2026-03-08 23:30 EDT belongs to the week of Monday March 2 in New York, of Monday March 9 in UTC.
    const [nyWeeks, utcWeeks] = [await counts('America/New_York', 'week'), await counts('UTC', 'week')]
    assert.equal(nyWeeks['2026-03-02'], 4)
    assert.equal(utcWeeks['2026-03-09'], 2)
  })

  test('when a window is given, then from is inclusive, to is exclusive, and both are echoed', async () => {
    const user = await seededUser(BOUNDARY_SEEDS)
    const from = '2026-03-08T05:30:00Z' // the instant of the 00:30 EST entry, in another notation
    const to = '2026-03-08T23:30:00-04:00' // exactly the 23:30 EDT entry
    const res = await stats(user, { from, to, tz: 'America/New_York' })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json()
    assert.equal(body.from, from)
    assert.equal(body.to, to)
    assert.deepEqual(body.overall, expectedStats(BOUNDARY_SEEDS, { tz: 'America/New_York', bucket: 'day', from, to }).overall)
    assert.equal(body.overall.count, 2)
    assert.deepEqual(
      body.buckets.map((b: any) => b.start),
      ['2026-03-08'],
    )

    const windows: Record<string, string>[] = [{ from: '2026-10-01T00:00:00+02:00' }, { to: '2026-02-01T00:00:00-05:00' }, { from: to, to }]
    for (const window of windows) {
      const windowed = (await stats(user, { ...window, tz: 'Europe/Berlin', bucket: 'week' })).json()
      const expected = expectedStats(BOUNDARY_SEEDS, { ...window, tz: 'Europe/Berlin', bucket: 'week' })
      assert.deepEqual({ buckets: windowed.buckets, categories: windowed.categories, overall: windowed.overall }, expected)
      assert.equal(windowed.from, window.from ?? null)
      assert.equal(windowed.to, window.to ?? null)
    }
  })

  test('when the window is the whole instant range, then every entry in it is counted and the bounds are echoed', async () => {
    const user = await signUp(h)
    const seeds: Seed[] = [
      { at: '1900-01-01T00:00:00.000Z', mood: 2, category: 'old' },
      { at: '2026-03-01T12:00:00.000Z', mood: 6, category: 'now' },
      { at: '9999-12-31T23:59:59.999Z', mood: 9, category: 'far' },
    ]
    await seed(h, user.id, seeds)
    const from = '1900-01-01T00:00:00Z'
    const to = '9999-12-31T23:59:59.999Z'
    for (const bucket of ['day', 'month'] as const) {
      const res = await stats(user, { from, to, bucket, tz: 'Europe/Amsterdam' })
      assert.equal(res.statusCode, 200, res.body)
      const body = res.json()
      assert.deepEqual([body.from, body.to], [from, to])
      const model = expectedStats(seeds, { tz: 'Europe/Amsterdam', bucket, from, to })
      assert.deepEqual(body.overall, model.overall)
      assert.deepEqual(body.buckets, model.buckets)
    }
  })

  test('when another user has entries on the same days, then they are never counted', async () => {
    const mine = BOUNDARY_SEEDS.slice(0, 6)
    const theirs: Seed[] = [
      ...BOUNDARY_SEEDS.map((s) => ({ ...s, mood: 11 - s.mood, category: 'theirs' })),
      { at: new Date().toISOString(), mood: 10, category: 'theirs' },
    ]
    const me = await seededUser(mine)
    const them = await seededUser(theirs)
    for (const bucket of ['day', 'month'] as const) {
      const body = (await stats(me, { tz: 'America/New_York', bucket })).json()
      assert.deepEqual(
        { buckets: body.buckets, categories: body.categories, overall: body.overall },
        expectedStats(mine, { tz: 'America/New_York', bucket }),
      )
      assert.deepEqual(body.streaks, expectedStreaks(mine, 'America/New_York', localDate(Date.now(), 'America/New_York')))
      const other = (await stats(them, { tz: 'America/New_York', bucket })).json()
      assert.equal(other.overall.count, theirs.length)
    }
  })

  /**
   * Seeds a fresh user with one entry at local noon for each day offset from today (in `tz`),
   * asks for stats and checks streaks against the model. A run that crosses local midnight is
   * retried, since "today" would differ between seeding and asking.
   */
  async function streaksFor(tz: string, offsets: number[], query: Record<string, string> = {}) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const today = localDate(Date.now(), tz)
      const seeds = offsets.map((k, i) => ({ at: localNoon(addDays(today, k), tz), mood: 1 + (i % 10), category: 'streak' }))
      const user = await seededUser(seeds)
      const res = await stats(user, { tz, ...query })
      if (localDate(Date.now(), tz) !== today) continue
      assert.equal(res.statusCode, 200, res.body)
      const body = res.json()
      assert.deepEqual(body.streaks, expectedStreaks(seeds, tz, today), `${tz} ${offsets.join(',')}`)
      return { body, user, seeds }
    }
    throw new Error('local midnight kept passing during the test')
  }

  test('when entries run up to today, then current counts back from today and longest is the longest run', async () => {
    for (const tz of ['UTC', 'America/New_York', 'Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
      const { body } = await streaksFor(tz, [0, 0, -1, -2, -5, -6, -7, -8, -9, -20])
      assert.deepEqual(body.streaks, { current: 3, longest: 5 })
    }
  })

  test('when today has no entry yet but yesterday has, then the current streak still counts up to yesterday', async () => {
    const { body } = await streaksFor('Europe/Berlin', [-1, -1, -2, -3, -4])
    assert.deepEqual(body.streaks, { current: 4, longest: 4 })
  })

  test('when the last entry is two days old, then the current streak is 0 and the longest remains', async () => {
    const { body } = await streaksFor('Asia/Tokyo', [-2, -3, -10])
    assert.deepEqual(body.streaks, { current: 0, longest: 2 })
  })

  test('when entries are dated in the future, then they do not extend any streak', async () => {
    const { body } = await streaksFor('America/New_York', [0, 1, 2, 3])
    assert.deepEqual(body.streaks, { current: 1, longest: 1 })
  })

  test('when the window excludes every entry, then the streaks still cover all entries', async () => {
    const window = { from: '2000-01-01T00:00:00Z', to: '2000-02-01T00:00:00Z' }
    const { body } = await streaksFor('UTC', [0, -1, -2, -4, -5, -6, -7], window)
    assert.deepEqual(body.buckets, [])
    assert.equal(body.overall.count, 0)
    assert.deepEqual(body.streaks, { current: 3, longest: 4 })
  })

  test('when the same entries are read in different zones, then streaks follow local days', async () => {
    // Three instants spanning 26 hours: two or three local days, and different ones, depending on the zone.
    const base = Date.now() - 3 * DAY_MS
    const seeds = [0, 13, 26].map((hours, i) => ({ at: new Date(base + hours * 3_600_000).toISOString(), mood: 5 + i, category: 'zones' }))
    const user = await seededUser(seeds)
    for (const tz of ['UTC', 'Pacific/Honolulu', 'Asia/Kathmandu', 'Pacific/Kiritimati']) {
      const today = localDate(Date.now(), tz)
      const body = (await stats(user, { tz })).json()
      if (localDate(Date.now(), tz) !== today) continue // crossed local midnight: the model's today is uncertain
      assert.deepEqual(body.streaks, expectedStreaks(seeds, tz, today), tz)
    }
  })

  test('when a user has no entries, then buckets and categories are empty and streaks are zero', async () => {
    const user = await signUp(h)
    for (const bucket of ['day', 'week', 'month']) {
      const res = await stats(user, { bucket, tz: 'Europe/Berlin' })
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual(res.json(), {
        tz: 'Europe/Berlin',
        bucket,
        from: null,
        to: null,
        overall: { count: 0, average: null, min: null, max: null },
        buckets: [],
        categories: [],
        streaks: { current: 0, longest: 0 },
      })
    }
  })

  test('when tz is omitted, then UTC is used; when it is spelled in another case, then its canonical name is', async () => {
    const user = await seededUser(BOUNDARY_SEEDS)
    const plain = (await stats(user)).json()
    assert.equal(plain.tz, 'UTC')
    assert.equal(plain.bucket, 'day')
    assert.deepEqual(plain.buckets, expectedStats(BOUNDARY_SEEDS, { tz: 'UTC', bucket: 'day' }).buckets)
    const lower = (await stats(user, { tz: 'america/new_york' })).json()
    assert.equal(lower.tz, 'America/New_York')
    assert.deepEqual(lower.buckets, expectedStats(BOUNDARY_SEEDS, { tz: 'America/New_York', bucket: 'day' }).buckets)
  })

  test('when a parameter is malformed or unknown, then 400 problem+json names the field', async () => {
    const user = await signUp(h)
    const cases: [Record<string, string | string[]>, string][] = [
      [{ tz: 'Mars/Olympus_Mons' }, 'query.tz'],
      [{ tz: "UTC'; drop table entries; --" }, 'query.tz'],
      [{ tz: 'UTC+5' }, 'query.tz'], // a POSIX spec, not an IANA name (and its sign is inverted)
      [{ tz: '' }, 'query.tz'],
      [{ bucket: 'year' }, 'query.bucket'],
      [{ bucket: ['day', 'week'] }, 'query.bucket'],
      [{ from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'query.from'],
      [{ from: 'yesterday' }, 'query.from'],
      [{ from: '2026-03-01' }, 'query.from'],
      [{ from: '2026-03-01T00:00:00' }, 'query.from'], // no offset
      [{ to: '2026-02-30T00:00:00Z' }, 'query.to'],
      [{ to: '2026-03-01T00:00:00+20:00' }, 'query.to'], // past what Postgres accepts as an offset
      [{ to: '2026-03-01T00:00:00+0530' }, 'query.to'],
      [{ from: '0000-06-01T00:00:00Z' }, 'query.from'],
      [{ from: '1899-12-31T23:59:59.999Z' }, 'query.from'],
      [{ from: '0001-01-01T00:00:00Z' }, 'query.from'],
      [{ to: '9999-12-31T23:59:59-01:00' }, 'query.to'],
      [{ to: '2026-03-01T00:00:00.0001Z' }, 'query.to'],
      [{ tz: 'UTC\u0000' }, 'query.tz'],
      [{ limit: '10' }, 'query.limit'],
    ]
    for (const [query, field] of cases) {
      const res = await h.request({ method: 'GET', url: '/stats', query, headers: user.auth })
      const label = JSON.stringify(query)
      assert.equal(res.statusCode, 400, `${label}: ${res.body}`)
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', label)
      assert.ok(
        res.json().errors.some((e: any) => e.field === field),
        `${label}: ${res.body}`,
      )
    }
    const count = await h.db.query<{ n: number }>('select count(*)::int as n from entries')
    assert.ok(count.length === 1, 'the entries table is still there')
  })

  test('when no token is sent, then 401', async () => {
    const res = await h.request({ method: 'GET', url: '/stats' })
    assert.equal(res.statusCode, 401)
  })
})
