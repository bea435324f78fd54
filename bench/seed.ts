/**
 * The benchmark database: created and migrated with the project's own `migrate()`, then filled
 * with set-based SQL (`insert … select … from generate_series`) once and reused across runs.
 *
 * Every user has the same real argon2id hash (of `BENCH_PASSWORD`, computed once per seed with
 * the project's own `PasswordHasher`), so logins cost exactly what they cost in production.
 */
import postgres from 'postgres'
import { PasswordHasher } from '../src/auth/passwords.js'
import { migrate } from '../src/db/index.js'
import { openServerDatabase } from '../src/db/server.js'

/** Bump when the shape of the seed changes: an older seed is then wiped and redone. */
const SEED_VERSION = 1

export const BENCH_PASSWORD = 'moodlog-bench-password-1'
export const USERS = 1_000
export const ENTRIES_PER_USER = 1_000
/** 1,000,000 rows to skip plus one full page, so "the page after 1,000,000 rows" exists. */
export const DEEP_DEPTH = 1_000_000
export const DEEP_ENTRIES = DEEP_DEPTH + 20

/** How many users, entries each and entries of the deep user a seed has. */
export interface SeedShape {
  users: number
  entriesPerUser: number
  deepEntries: number
}

/** The seed every scenario runs on. */
export const NORMAL_SEED: SeedShape = { users: USERS, entriesPerUser: ENTRIES_PER_USER, deepEntries: DEEP_ENTRIES }
/** `--scale`: 100,000 users; 99,999 × 90 + the deep user's 1,000,020 ≈ 10,000,000 entries. */
export const SCALE_SEED: SeedShape = { users: 100_000, entriesPerUser: 90, deepEntries: DEEP_ENTRIES }

/** Digits of a user's number in its email: fixed width, so that email order is number order. */
const emailDigits = (shape: SeedShape) => Math.max(4, String(shape.users).length)

export const userEmail = (n: number, shape: SeedShape = NORMAL_SEED) =>
  `bench-${String(n).padStart(emailDigits(shape), '0')}@bench.moodlog.test`
export const DEEP_EMAIL = 'bench-deep@bench.moodlog.test'

export interface SeedInfo {
  /** Ids of the regular users, in email order. */
  userIds: number[]
  deepUserId: number
  /** Highest entry id the seed made; anything above was written by a benchmark run. */
  maxSeedEntryId: number
  /** Seconds the seed took (0 when an existing seed was reused). */
  seededSeconds: number
  reused: boolean
}

function adminUrlOf(url: string): { admin: string; database: string } {
  const parsed = new URL(url)
  const database = decodeURIComponent(parsed.pathname.slice(1))
  if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`BENCH_DATABASE_URL: database name "${database}" must be [A-Za-z0-9_]+`)
  parsed.pathname = '/postgres'
  return { admin: parsed.toString(), database }
}

async function ensureDatabase(url: string): Promise<void> {
  const { admin, database } = adminUrlOf(url)
  const sql = postgres(admin, { max: 1, onnotice: () => {} })
  try {
    const found = await sql`select 1 from pg_database where datname = ${database}`
    if (found.length === 0) await sql.unsafe(`create database "${database}"`)
  } finally {
    await sql.end()
  }
}

/** Phrases of varied length, so pages and the search column look like journal text. */
const TEXTS = [
  'Slept well, long walk by the river before work.',
  'Busy day. Meetings back to back, but the demo went fine and the team was happy with it.',
  'Tired.',
  'Rain all day; read a book and cooked soup. Called my sister in the evening and we talked for an hour about the summer plans.',
  'Gym in the morning, felt strong. Lunch with an old friend.',
  'Headache most of the afternoon, went to bed early.',
  'Finished the project I had been putting off for weeks; relieved and a bit proud. Celebrated with pizza.',
  'Quiet Sunday.',
]
const CATEGORIES = ['work', 'health', 'family', 'friends', 'sleep', 'hobby']

/** Fills an empty schema. Regular users' rows interleave (as a shared table written over time does). */
async function fill(sql: postgres.Sql, passwordHash: string, shape: SeedShape): Promise<void> {
  await sql`
    insert into users (email, password_hash, created_at, updated_at)
    select format('bench-%s@bench.moodlog.test', lpad(u::text, ${emailDigits(shape)}::int, '0')), ${passwordHash},
           now() - interval '3 years', now() - interval '3 years'
      from generate_series(1, ${shape.users}::int) u
     order by u`
  await sql`
    insert into users (email, password_hash, created_at, updated_at)
    values (${DEEP_EMAIL}, ${passwordHash}, now() - interval '3 years', now() - interval '3 years')`

  // One entry per user per hour going back; the oldest rows get the lowest ids.
  await sql`
    insert into entries (user_id, text, mood, category, occurred_at, created_at, updated_at)
    select u.id,
           (${TEXTS}::text[])[1 + (i * 7 + u.id) % ${TEXTS.length}],
           1 + (i * 3 + u.id) % 10,
           (${CATEGORIES}::text[])[1 + (i + u.id) % ${CATEGORIES.length}],
           t.at, t.at, t.at
      from users u
     cross join generate_series(1, ${shape.entriesPerUser}::int) i
     cross join lateral (select now() - make_interval(hours => i, secs => u.id % 3600) as at) t
     where u.email <> ${DEEP_EMAIL}
     order by i desc, u.id`

  // The deep user: one entry a minute, about two years back.
  await sql`
    insert into entries (user_id, text, mood, category, occurred_at, created_at, updated_at)
    select u.id,
           (${TEXTS}::text[])[1 + (i * 7) % ${TEXTS.length}],
           1 + (i * 3) % 10,
           (${CATEGORIES}::text[])[1 + i % ${CATEGORIES.length}],
           t.at, t.at, t.at
      from users u
     cross join generate_series(1, ${shape.deepEntries}::int) i
     cross join lateral (select now() - make_interval(mins => i) as at) t
     where u.email = ${DEEP_EMAIL}
     order by i desc`
}

async function readInfo(sql: postgres.Sql, seededSeconds: number, reused: boolean): Promise<SeedInfo> {
  const users = await sql<{ id: string; email: string }[]>`
    select id::text, email from users where email like 'bench-%@bench.moodlog.test' order by email`
  const deep = users.find((u) => u.email === DEEP_EMAIL)
  const [marker] = await sql<{ max: string }[]>`select max_entry_id::text as max from bench_seed`
  if (!deep || !marker) throw new Error('benchmark seed is incomplete')
  return {
    userIds: users.filter((u) => u.email !== DEEP_EMAIL).map((u) => Number(u.id)),
    deepUserId: Number(deep.id),
    maxSeedEntryId: Number(marker.max),
    seededSeconds,
    reused,
  }
}

/**
 * Creates, migrates and (when needed) seeds the benchmark database; returns who is in it.
 * Reused when the marker row matches this seed's version and the user count matches.
 */
export async function ensureSeed(url: string, log: (line: string) => void, shape: SeedShape = NORMAL_SEED): Promise<SeedInfo> {
  await ensureDatabase(url)
  const db = openServerDatabase({ url, poolSize: 1, statementTimeoutMs: 0 })
  try {
    const result = await migrate(db)
    if (result.applied.length > 0) log(`bench database migrated ${result.from} → ${result.to}`)
  } finally {
    await db.close()
  }

  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'moodlog-bench-seed' } })
  try {
    await sql`
      create table if not exists bench_seed (
        version int not null, users int not null, entries_per_user int not null, deep_entries int not null,
        max_entry_id bigint not null, seconds numeric not null, seeded_at timestamptz not null default now())`
    const [marker] = await sql<
      { version: number; users: number; entries_per_user: number; deep_entries: number }[]
    >`select * from bench_seed`
    const [{ count } = { count: '0' }] = await sql<{ count: string }[]>`
      select count(*)::text as count from users where email like 'bench-%@bench.moodlog.test'`
    const matches =
      marker?.version === SEED_VERSION &&
      marker.users === shape.users &&
      marker.entries_per_user === shape.entriesPerUser &&
      marker.deep_entries === shape.deepEntries
    if (matches && Number(count) === shape.users + 1) {
      return await readInfo(sql, 0, true)
    }

    log(
      `seeding ${shape.users} users × ${shape.entriesPerUser} entries + 1 user × ${shape.deepEntries} entries (set-based; takes a few minutes once) …`,
    )
    const started = performance.now()
    const passwordHash = await new PasswordHasher().hash(BENCH_PASSWORD)
    await sql`truncate bench_seed`
    await sql`truncate users, entries, sessions, refresh_tokens, idempotency_keys restart identity cascade`
    await sql.begin(async (tx) => {
      // Big sorts and index maintenance for this one transaction only.
      await tx`set local work_mem = '256MB'`
      await tx`set local maintenance_work_mem = '512MB'`
      await fill(tx as unknown as postgres.Sql, passwordHash, shape)
    })
    log('  rows inserted; vacuum analyze (sets the visibility map, so counts are index-only as in steady state) …')
    await sql`vacuum (analyze) users, entries`
    const seconds = (performance.now() - started) / 1000
    await sql`
      insert into bench_seed (version, users, entries_per_user, deep_entries, max_entry_id, seconds)
      select ${SEED_VERSION}, ${shape.users}, ${shape.entriesPerUser}, ${shape.deepEntries}, coalesce(max(id), 0), ${seconds.toFixed(1)} from entries`
    log(`  seeded in ${seconds.toFixed(0)} s`)
    return await readInfo(sql, seconds, false)
  } finally {
    await sql.end()
  }
}

/**
 * Removes what earlier runs wrote (sessions from logins, entries from the create scenarios, the
 * webhook endpoint of create-webhook and its deliveries) so every run starts from the same data;
 * vacuums when rows went, to keep counts index-only.
 */
export async function resetRunData(url: string, seed: SeedInfo): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await sql`truncate sessions, refresh_tokens, idempotency_keys, webhook_endpoints, webhook_deliveries`
    const deleted = await sql`delete from entries where id > ${seed.maxSeedEntryId}`
    if (deleted.count > 0) await sql`vacuum (analyze) entries`
  } finally {
    await sql.end()
  }
}

/** A few entry ids of each user, for `GET /entries/{id}`. */
/** `skip`: how many of each user's newest entries to pass over (the picks are older, as a reader's are). */
export async function sampleEntryIds(
  url: string,
  userIds: number[],
  perUser: number,
  skip = 100,
): Promise<Array<{ userId: number; id: number }>> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const rows = await sql<{ user_id: string; id: string }[]>`
      select u.user_id::text, e.id::text
        from unnest(${userIds}::int8[]) as u(user_id)
       cross join lateral (
         select id from entries where user_id = u.user_id order by occurred_at desc, id desc offset ${skip} limit ${perUser}) e`
    return rows.map((r) => ({ userId: Number(r.user_id), id: Number(r.id) }))
  } finally {
    await sql.end()
  }
}

export async function postgresVersion(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const [row] = await sql<{ server_version: string }[]>`show server_version`
    return row?.server_version ?? 'unknown'
  } finally {
    await sql.end()
  }
}
