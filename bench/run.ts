/**
 * `npm run bench [-- --quick] [--only id,id] [--cpu-prof] [--skip-build]`, or `npm run bench -- --scale [--quick]`
 *
 * Builds moodlog, seeds (once) the benchmark database, starts moodlog from the production build
 * and a bare baseline as their own processes, drives them with autocannon in alternation and
 * writes bench/results/latest.json (`--quick`: latest-quick.json). See docs/PERFORMANCE.md.
 */
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import postgres from 'postgres'
import pLimit from 'p-limit'
import { prepareEmbeddedDataDir, EMBEDDED_EMAIL } from './embedded.js'
import { exportMemory } from './export-memory.js'
import { type Timing } from './load.js'
import { runScale, scaleUrlOf } from './scale.js'
import { installCleanup, memoryBreakdown, ROOT, rssMegabytes, runToEnd, startService, stopAll, type Service } from './processes.js'
import { formatTable, verdict, type Results, type ScenarioDetail } from './report.js'
import * as s from './scenarios.js'
import { updatePerformanceDoc } from './docs.js'
import { BENCH_PASSWORD, DEEP_EMAIL, ensureSeed, postgresVersion, resetRunData, sampleEntryIds, userEmail, USERS } from './seed.js'
import { startReceiver, subscribe } from './webhook-receiver.js'

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
  },
})

const QUICK = flags.quick === true
const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/moodlog_bench'
const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL || process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const JWT_SECRET = 'moodlog-benchmark-secret-0123456789-abcdefghijklmnop'
/** Users signed in and spread over (requests go to each in turn); the rest of the seed is data volume. */
const ACCOUNTS = QUICK ? 20 : 100
const TIMING: Timing = QUICK ? { rounds: 3, seconds: 0.25, warmupSeconds: 0.1 } : { rounds: 3, seconds: 2.5, warmupSeconds: 0.5 }
/**
 * Scenarios whose requests take long or queue (an OFFSET-1,000,000 page, argon2 logins, reads
 * during a login flood, one PGlite connection): rounds long enough that every round completes some.
 */
const SLOW_TIMING: Timing = QUICK ? { rounds: 3, seconds: 0.4, warmupSeconds: 0.15 } : TIMING
/**
 * Connections sending logins. Throughput saturates at `cores` concurrent logins (PasswordHasher
 * runs that many at a time); what is beyond waits in its queue, which the harness drains after
 * every round (~2.5 s for 100). --quick sends fewer to keep that drain short.
 */
const LOGIN_CONNECTIONS = QUICK ? 16 : s.CONNECTIONS
const FLOOD_CONNECTIONS = QUICK ? 16 : s.FLOOD_CONNECTIONS
/** Whole exports of the deep user's 1,000,020 entries, several seconds each. */
const EXPORT_ROUNDS = QUICK ? 1 : TIMING.rounds
const only = flags.only ? new Set(flags.only.split(',').map((id) => id.trim())) : undefined
const wanted = (id: s.ScenarioId) => !only || only.has(id)

const log = (line: string) => console.log(line)
const elapsed = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`
const profileDir = path.join(ROOT, 'bench/results/profiles')

/** `BENCH_SERVER_ENTRY` runs another build (e.g. a patched copy of dist/) for an experiment. */
const SERVER_ENTRY = process.env.BENCH_SERVER_ENTRY || 'dist/server.js'
/** Experiments: `BENCH_MOODLOG_X=v` starts every moodlog process with `X=v` (e.g. BENCH_MOODLOG_DATABASE_POOL_SIZE=2). */
const EXTRA_ENV = Object.fromEntries(
  Object.entries(process.env)
    .filter(([name]) => name.startsWith('BENCH_MOODLOG_'))
    .map(([name, value]) => [name.slice('BENCH_MOODLOG_'.length), value]),
)

function moodlogArgs(): string[] {
  return flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, SERVER_ENTRY] : [SERVER_ENTRY]
}

const logDir = path.join(ROOT, 'bench/results/logs')
const logFileOf = (name: string) => path.join(logDir, `${name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}.log`)

async function startMoodlog(name: string, env: Record<string, string | undefined>): Promise<Service> {
  const service = await startService({
    name,
    args: moodlogArgs(),
    logFile: logFileOf(name),
    env: {
      LOG_LEVEL: 'warn',
      DATABASE_URL: BENCH_DATABASE_URL,
      JWT_SECRET,
      RATE_LIMIT_MAX: '0',
      CACHE: 'off',
      // Every process shares one delivery queue: only create-webhook's runs a worker (the one allowed to reach loopback).
      WEBHOOKS: 'off',
      ...env,
      ...EXTRA_ENV,
    },
  })
  if (flags['cpu-prof']) log(`  ${name}: pid ${service.child.pid} (profile CPU.*.${service.child.pid}.*.cpuprofile)`)
  return service
}

function startBaseline(driver: 'pg' | 'postgres', pool: number): Promise<Service> {
  return startService({
    name: `bare ${driver} pool ${pool}`,
    args: ['--import', 'tsx', 'bench/baseline-server.ts'],
    env: { DATABASE_URL: BENCH_DATABASE_URL, BASELINE_DRIVER: driver, BASELINE_POOL: String(pool) },
  })
}

async function signIn(service: Service, email: string, userId: number): Promise<s.Account> {
  const response = await fetch(`${service.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: BENCH_PASSWORD }),
  })
  if (response.status !== 200) throw new Error(`login of ${email} on ${service.name}: ${response.status} ${await response.text()}`)
  const { accessToken } = (await response.json()) as { accessToken: string }
  return { userId, email, authorization: `Bearer ${accessToken}` }
}

/** Fails early, with a clear message, when the build has no entries routes yet. */
async function checkEntriesRoute(service: Service, account: s.Account): Promise<void> {
  const response = await fetch(`${service.url}/entries?limit=20`, { headers: { authorization: account.authorization } })
  if (response.status !== 200)
    throw new Error(`GET /entries on ${service.name} answered ${response.status}: ${(await response.text()).slice(0, 300)}`)
}

const DRIVER_VARIANTS = [
  { driver: 'postgres', pool: 1 },
  { driver: 'postgres', pool: 10 },
  { driver: 'pg', pool: 1 },
  { driver: 'pg', pool: 10 },
] as const

function startBaselines(): Promise<Service[]> {
  return Promise.all(DRIVER_VARIANTS.map((v) => startBaseline(v.driver, v.pool)))
}

/** Whether dist/server.js is newer than every file the build reads. */
async function buildIsFresh(): Promise<boolean> {
  const built = await stat(path.join(ROOT, SERVER_ENTRY)).then(
    (st) => st.mtimeMs,
    () => 0,
  )
  if (built === 0) return false
  const inputs = ['package.json', 'tsconfig.json', 'tsconfig.build.json']
  for (const entry of await readdir(path.join(ROOT, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) inputs.push(path.join(path.relative(ROOT, entry.parentPath), entry.name))
  }
  const times = await Promise.all(
    inputs.map((file) =>
      stat(path.join(ROOT, file)).then(
        (st) => st.mtimeMs,
        () => Infinity,
      ),
    ),
  )
  return times.every((mtime) => mtime < built)
}

async function redisReachable(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

async function benchPasswordHash(): Promise<string> {
  const sql = postgres(BENCH_DATABASE_URL, { max: 1, onnotice: () => {} })
  try {
    const [row] = await sql<{ password_hash: string }[]>`select password_hash from users where email = ${DEEP_EMAIL}`
    return row!.password_hash
  } finally {
    await sql.end()
  }
}

async function main(): Promise<void> {
  installCleanup()
  const started = performance.now()
  // What the servers write (warnings and errors only, at LOG_LEVEL=warn) goes to bench/results/logs/.
  await rm(logDir, { recursive: true, force: true })
  await mkdir(logDir, { recursive: true })
  const outcomes: s.Outcome[] = []
  /** With --cpu-prof: the process whose clock scenario windows are printed in. */
  let profiled: Service | undefined
  const record = async (id: s.ScenarioId, fn: () => Promise<s.Outcome>) => {
    if (!wanted(id)) return
    const t = performance.now()
    const window = () =>
      profiled
        ? `; profile window --from ${((t - profiled.startedAt) / 1000).toFixed(1)} --to ${((performance.now() - profiled.startedAt) / 1000).toFixed(1)}`
        : ''
    try {
      outcomes.push(await fn())
    } catch (error) {
      outcomes.push(s.failed(id, error))
      console.error(`${id} failed:`, error)
    }
    const o = outcomes.at(-1)!
    log(`  ${id.padEnd(20)} ratio ${o.result.ratio ?? '—'} (${verdict(o.result.met)}) in ${elapsed(t)}${window()}`)
  }

  log(`moodlog benchmark${QUICK ? ' (--quick)' : ''}: ${TIMING.rounds} rounds × ${TIMING.seconds} s per side, ${s.CONNECTIONS} connections`)
  const loadAtStart = os.loadavg()[0]!
  if (loadAtStart > os.availableParallelism()) {
    log(`note: the machine is busy (load average ${loadAtStart.toFixed(1)} on ${os.availableParallelism()} cores); expect noisy numbers`)
  }
  let t = performance.now()
  const quiet = <T>(promise: Promise<T>) => {
    promise.catch(() => {})
    return promise
  }
  let embeddedDir: string | undefined
  let embeddedPrep: Promise<unknown> | undefined
  // The build, the seed check and what needs only the database (the bare baselines, the PGlite
  // data directory) run together; moodlog processes start once the build is done. Every process
  // sits idle until its scenario; a start that fails fails only its scenarios.
  const build = (async () => {
    if (flags['skip-build']) return log('build: skipped (--skip-build), using the existing dist/')
    // --quick trusts a dist/ newer than every source (a full run always builds).
    if (QUICK && (await buildIsFresh())) return log('build: dist/ is newer than every source, not rebuilt')
    await runToEnd('npm', ['run', '--silent', 'build'])
    log(`build: ${elapsed(t)}`)
  })()
  const seedReady = quiet(
    ensureSeed(BENCH_DATABASE_URL, log).then(async (info) => {
      await resetRunData(BENCH_DATABASE_URL, info)
      return info
    }),
  )

  try {
    const needsBaseline = (['list-nocache', 'list-cached', 'get-one', 'create'] as const).some(wanted)
    const baselines = needsBaseline ? quiet(seedReady.then(() => startBaselines())) : undefined
    const passwordHashReady = quiet(seedReady.then(() => benchPasswordHash()))
    const embeddedDirReady = wanted('embedded-vs-server')
      ? quiet(passwordHashReady.then((hash) => prepareEmbeddedDataDir(hash)).then((dir) => (embeddedDir = dir)))
      : undefined
    embeddedPrep = embeddedDirReady

    const [seed] = await Promise.all([seedReady, build])
    const seedSeconds = seed.reused ? 0 : seed.seededSeconds
    log(`seed: ${seed.reused ? 'reused' : `created in ${seed.seededSeconds.toFixed(0)} s`} (${seed.userIds.length} users + deep user)`)
    const passwordHash = await passwordHashReady
    const benchUsers = seed.userIds.slice(0, ACCOUNTS).map((userId, i) => ({ userId, email: userEmail(i + 1) }))
    // Two entries per user: autocannon builds every request buffer per connection, so keep the list short.
    const entryIds = await sampleEntryIds(
      BENCH_DATABASE_URL,
      benchUsers.map((u) => u.userId),
      2,
    )

    t = performance.now()
    const cachedStart = wanted('list-cached') ? quiet(startMoodlog('moodlog (cache on)', { CACHE: 'on' })) : undefined
    // A process of its own: allowed to deliver to loopback, and its worker's backlog stays out of other scenarios.
    const webhookStart = wanted('create-webhook')
      ? quiet(
          startMoodlog('moodlog (webhooks to loopback)', {
            CACHE: 'off',
            WEBHOOKS: 'on',
            WEBHOOKS_ALLOW_HTTP: 'true',
            WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true',
          }),
        )
      : undefined
    const redisEnv = { REDIS_URL: BENCH_REDIS_URL, REDIS_KEY_PREFIX: `moodlog-bench-${process.pid}:` }
    const redisPair = wanted('ratelimit-redis')
      ? quiet(
          redisReachable(BENCH_REDIS_URL).then((reachable) => {
            if (!reachable) throw new Error(`Redis not reachable at BENCH_REDIS_URL (${new URL(BENCH_REDIS_URL).host})`)
            return Promise.all([
              startMoodlog('moodlog (redis, limit on)', { ...redisEnv, RATE_LIMIT_MAX: '1000000000', SIGNUP_RATE_LIMIT_MAX: '0' }),
              startMoodlog('moodlog (redis, limit off)', { ...redisEnv, RATE_LIMIT_MAX: '0' }),
            ])
          }),
        )
      : undefined
    const embeddedStart = embeddedDirReady
      ? quiet(
          embeddedDirReady.then(async (dir) => {
            const embedded = await startService({
              name: 'moodlog (embedded)',
              args: moodlogArgs(),
              logFile: logFileOf('moodlog (embedded)'),
              env: { LOG_LEVEL: 'warn', DATA_DIR: dir, JWT_SECRET, RATE_LIMIT_MAX: '0', CACHE: 'off', ...EXTRA_ENV },
            })
            return { embedded, account: await signIn(embedded, EMBEDDED_EMAIL, 0) }
          }),
        )
      : undefined
    const moodlog = await startMoodlog('moodlog (cache off)', { CACHE: 'off' })
    if (flags['cpu-prof']) profiled = moodlog
    const limit = pLimit(4)
    const accounts = await Promise.all(benchUsers.map((u) => limit(() => signIn(moodlog, u.email, u.userId))))
    const deep = await signIn(moodlog, DEEP_EMAIL, seed.deepUserId)
    await checkEntriesRoute(moodlog, accounts[0]!)
    await Promise.allSettled([baselines, cachedStart, webhookStart, redisPair, embeddedStart])
    log(`processes up, ${accounts.length + 1} users signed in: ${elapsed(t)}`)

    const byUser = new Map(accounts.map((a) => [a.userId, a]))
    const targets = entryIds.map((e) => ({ account: byUser.get(e.userId)!, id: e.id }))
    let driverSummary: string | undefined
    if (baselines) {
      // Every driver setup runs in every round of these four scenarios; each takes its fastest.
      let bares: s.Bare[] | undefined
      try {
        bares = (await baselines).map((service) => ({ service, label: service.name }))
      } catch (error) {
        for (const id of ['list-nocache', 'list-cached', 'get-one', 'create'] as const) await record(id, () => Promise.reject(error))
      }
      if (bares) {
        const all = bares
        await record('list-nocache', () => s.list('off', moodlog, all, accounts, TIMING))
        await record('list-cached', async () => s.list('on', (await cachedStart)!, all, accounts, TIMING))
        await record('get-one', () => s.getOne(moodlog, all, targets, TIMING))
        await record('create', () => s.create(moodlog, all, accounts, TIMING))
        driverSummary = outcomes
          .filter((o) => ['list-nocache', 'list-cached', 'get-one', 'create'].includes(o.result.id) && o.detail.b)
          .map((o) => `${o.result.id}: ${o.detail.b!.label}`)
          .join('; ')
      }
      await Promise.all((bares ?? []).map((bare) => bare.service.stop()))
    }
    /** RSS of the CACHE=on process after list-cached, reported next to the rss scenario. */
    let cachedRss: number | undefined
    let cachedBreakdown: string | undefined
    await cachedStart?.then(
      async (service) => {
        cachedRss = await rssMegabytes(service.child.pid)
        cachedBreakdown = await memoryBreakdown(service.url)
        await service.stop()
      },
      () => {},
    )

    // A fresh process for every export: what an earlier export left resident would hide the next one's growth.
    await record('export-memory', () =>
      exportMemory(() => startMoodlog('moodlog (cache on, export)', { CACHE: 'on' }), deep, EXPORT_ROUNDS),
    )

    await record('create-webhook', async () => {
      const service = (await webhookStart)!
      const receiver = await startReceiver()
      try {
        // The last two seeded users: no other scenario signs them in, so only this one's writes reach the endpoint.
        const [subscribed, plain] = await Promise.all([USERS, USERS - 1].map((n) => signIn(service, userEmail(n), seed.userIds[n - 1]!)))
        await subscribe(service, subscribed!, receiver)
        return await s.createWebhook(service, subscribed!, plain!, receiver, TIMING)
      } finally {
        await service.stop()
        await receiver.close()
      }
    })

    await record('login', () => s.login(moodlog, accounts, passwordHash, SLOW_TIMING, LOGIN_CONNECTIONS))
    await record('login-flood-p99', () => s.loginFlood(moodlog, accounts, SLOW_TIMING, FLOOD_CONNECTIONS))

    await record('ratelimit-redis', async () => {
      const [limited, unlimited] = await redisPair!
      try {
        return await s.rateLimitRedis(limited, unlimited, accounts, TIMING)
      } finally {
        await Promise.all([limited.stop(), unlimited.stop()])
      }
    })

    await record('embedded-vs-server', async () => {
      const { embedded, account } = await embeddedStart!
      try {
        return await s.embeddedVsServer(embedded, account, moodlog, accounts[0]!, SLOW_TIMING)
      } finally {
        await embedded.stop()
      }
    })

    // Last on this process: the slowest requests, and a failure here cannot spill into the others.
    await record('deep-first-page', () => s.deepFirstPageScenario(moodlog, deep, accounts[0]!, SLOW_TIMING))
    await record('deep-cursor', async () => s.deepCursorScenario(moodlog, deep, await s.deepCursor(moodlog, deep), SLOW_TIMING))
    await record('deep-page', () => s.deepPageScenario(moodlog, deep, SLOW_TIMING, QUICK ? 1 : 2))

    const serverLog = moodlog.output().trim()
    if (serverLog) {
      const lines = serverLog.split('\n')
      log(
        `\nmoodlog (cache off) logged ${lines.length >= 40 ? 'many' : lines.length} warnings/errors (bench/results/logs/); the last:\n${lines.at(-1)!.slice(0, 1500)}\n`,
      )
    }

    if (wanted('rss')) {
      // The goal holds for both server-mode processes that carried the load: the larger is the value.
      const mb = await rssMegabytes(moodlog.child.pid)
      const breakdown = await memoryBreakdown(moodlog.url)
      const both = mb === undefined || cachedRss === undefined ? mb : Math.max(mb, cachedRss)
      const own = ` (${mb?.toFixed(1)} MB${breakdown ? `: ${breakdown}` : ''})`
      const cached =
        cachedRss === undefined
          ? own
          : `${own} and the CACHE=on process after list-cached (${cachedRss.toFixed(1)} MB${cachedBreakdown ? `: ${cachedBreakdown}` : ''}), the larger`
      outcomes.push(s.rss(both, `VmRSS of the server-mode moodlog process (CACHE=off) after all its scenarios${cached}`))
    }
    await moodlog.stop()

    const results: Results = {
      date: new Date().toISOString(),
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.availableParallelism(),
        node: process.version,
        postgres: await postgresVersion(BENCH_DATABASE_URL),
      },
      scenarios: s.SCENARIO_IDS.flatMap((id) => outcomes.filter((o) => o.result.id === id).map((o) => o.result)),
    }
    const details: ScenarioDetail[] = outcomes.map((o) => ({ ...o.detail }))

    const table = formatTable(results, details)
    log(`\n${table}\n`)
    for (const d of details) if (d.note) log(`  ${d.id}: ${d.note}`)

    const totalSeconds = (performance.now() - started) / 1000 - seedSeconds
    const load = `load average ${loadAtStart.toFixed(1)} at start, ${os.loadavg()[0]!.toFixed(1)} at end`
    log(`\ntotal ${totalSeconds.toFixed(0)} s${seed.reused ? '' : ` (plus ${seedSeconds.toFixed(0)} s of first-time seeding)`}; ${load}`)

    if (!only) {
      const file = path.join(ROOT, 'bench/results', QUICK ? 'latest-quick.json' : 'latest.json')
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, `${JSON.stringify(results, null, 2)}\n`)
      log(`wrote ${path.relative(ROOT, file)}`)
      if (!QUICK) {
        const updated = await updatePerformanceDoc(results, details, { baselineDriver: driverSummary, totalSeconds, load })
        if (updated) log(`updated ${updated}`)
      }
    }
  } finally {
    await stopAll()
    await embeddedPrep?.catch(() => {})
    if (embeddedDir) await rm(embeddedDir, { recursive: true, force: true })
  }
}

/** `--scale`: the scale scenarios only (bench/scale.ts), on the normal and the large seed. */
async function scale(): Promise<void> {
  installCleanup()
  await rm(logDir, { recursive: true, force: true })
  await mkdir(logDir, { recursive: true })
  if (!flags['skip-build']) await runToEnd('npm', ['run', '--silent', 'build'])
  try {
    await runScale({
      normalUrl: BENCH_DATABASE_URL,
      scaleUrl: scaleUrlOf(BENCH_DATABASE_URL),
      accounts: ACCOUNTS,
      timing: TIMING,
      slowTiming: SLOW_TIMING,
      quick: QUICK,
      log,
      startMoodlog,
      signIn,
    })
  } finally {
    await stopAll()
  }
}

try {
  await (flags.scale ? scale() : main())
} catch (error) {
  console.error(error)
  await stopAll()
  process.exitCode = 1
}
