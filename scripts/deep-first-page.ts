/**
 * First page of GET /entries (cache off) for a user with 1,000,000 entries against one with 1,000,
 * on a Postgres server: p50 and p95 of each, their ratio, and for comparison the cost of counting
 * the large journal, which is what every unfiltered page paid before the kept count.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx scripts/deep-first-page.ts [entries] [requests]
 *
 * Works in a database of its own (created and dropped here), never in the one the URL names.
 */
import { performance } from 'node:perf_hooks'
import postgres from 'postgres'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { migrate } from '../src/db/index.js'
import { openServerDatabase } from '../src/db/server.js'

const adminUrl = process.env.DATABASE_URL
if (!adminUrl) throw new Error('set DATABASE_URL to a Postgres server (an admin connection: a database is created there)')
const large = Number(process.argv[2] ?? 1_000_000)
const requests = Number(process.argv[3] ?? 200)
const name = `moodlog_deep_first_page_${process.pid}`
const url = new URL(adminUrl)
url.pathname = `/${name}`

const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`create database "${name}"`)
const db = openServerDatabase({ url: url.toString(), poolSize: 5, statementTimeoutMs: 600_000 })
try {
  await migrate(db)
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    JWT_SECRET: 'x'.repeat(32),
    CACHE: 'off',
    RATE_LIMIT_MAX: '1000000000',
    SIGNUP_RATE_LIMIT_MAX: '0',
  })
  const app = await buildApp(config, { db, logger: false })
  await app.ready()

  const signUp = async (email: string) => {
    const password = 'correct horse battery staple'
    const registered = await app.inject({ method: 'POST', url: '/register', payload: { email, password } })
    const login = await app.inject({ method: 'POST', url: '/login', payload: { email, password } })
    return { id: registered.json().id as number, auth: { authorization: `Bearer ${login.json().accessToken}` } }
  }
  const small = await signUp('small@example.test')
  const big = await signUp('big@example.test')
  const seed = async (userId: number, n: number) => {
    const started = performance.now()
    await db.query(
      `insert into entries (user_id, text, mood, category, occurred_at)
       select $1, 'entry number ' || n, 1 + n % 10, 'category ' || n % 7, timestamptz '2020-01-01Z' + n * interval '1 minute'
         from generate_series(1, $2::int) n`,
      [userId, n],
    )
    await db.query('analyze entries')
    return performance.now() - started
  }
  const seedMs = (await seed(small.id, 1000)) + (await seed(big.id, large))

  const measure = async (auth: Record<string, string>, path = '/entries?limit=20') => {
    for (let i = 0; i < 20; i++) await app.inject({ method: 'GET', url: path, headers: auth }) // warm-up
    const times: number[] = []
    for (let i = 0; i < requests; i++) {
      const started = performance.now()
      const res = await app.inject({ method: 'GET', url: path, headers: auth })
      times.push(performance.now() - started)
      if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${res.body}`)
    }
    times.sort((a, b) => a - b)
    return { p50: times[Math.floor(times.length / 2)]!, p95: times[Math.floor(times.length * 0.95)]! }
  }
  const smallPage = await measure(small.auth)
  const bigPage = await measure(big.auth)
  const count = async () => {
    const started = performance.now()
    await db.query('select count(*) from entries where user_id = $1', [big.id])
    return performance.now() - started
  }
  await count()
  const counts = [await count(), await count(), await count(), await count(), await count()].sort((a, b) => a - b)
  const fixed = (ms: number) => `${ms.toFixed(2)} ms`
  console.log(`seeded ${large.toLocaleString('en')} + 1,000 entries in ${(seedMs / 1000).toFixed(1)} s; ${requests} requests each`)
  console.log(`first page, 1,000 entries:   p50 ${fixed(smallPage.p50)}  p95 ${fixed(smallPage.p95)}`)
  console.log(`first page, ${large.toLocaleString('en')} entries: p50 ${fixed(bigPage.p50)}  p95 ${fixed(bigPage.p95)}`)
  console.log(`deep-first-page ratio (p50): ${(bigPage.p50 / smallPage.p50).toFixed(2)}`)
  console.log(`for comparison, count(*) of the large journal: median ${fixed(counts[2]!)}`)
  await app.close()
} finally {
  await db.close()
  await admin.unsafe(`drop database if exists "${name}" with (force)`)
  await admin.end()
}
