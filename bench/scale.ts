/**
 * `npm run bench -- --scale`: the same requests on the normal seed (1,000 users, ~2,000,000
 * entries) and on a seed a hundred times the users (100,000 users, ~10,000,000 entries), driven in
 * alternation in one run. Each scenario's figure at scale divided by its figure at the normal size
 * must stay within 10%: what a request costs must not grow with the table. Seeding the large
 * database takes a while once; it is reused after. Never part of CI.
 */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import postgres from 'postgres'
import pLimit from 'p-limit'
import { alternate, httpSide, sequentialSide, type HttpRequest, type Side, type Timing } from './load.js'
import { ROOT, type Service } from './processes.js'
import { formatTable, invalidSide, scenarioResult, type Goal, type ScenarioDetail, type ScenarioResult } from './report.js'
import { CONNECTIONS, DEPTH_CONNECTIONS, newEntry, type Account } from './scenarios.js'
import {
  DEEP_EMAIL,
  ensureSeed,
  NORMAL_SEED,
  resetRunData,
  sampleEntryIds,
  SCALE_SEED,
  userEmail,
  type SeedInfo,
  type SeedShape,
} from './seed.js'

export interface ScaleRun {
  normalUrl: string
  scaleUrl: string
  /** Signed-in users per side. */
  accounts: number
  timing: Timing
  /** Timing of the one-connection latency scenario. */
  slowTiming: Timing
  quick: boolean
  log(line: string): void
  startMoodlog(name: string, env: Record<string, string>): Promise<Service>
  signIn(service: Service, email: string, userId: number): Promise<Account>
}

/**
 * Scale over normal size: throughput may fall by at most 10%. The one-connection scenario is also
 * measured in req/s (one request after the other, each timed exactly: the inverse of the mean
 * latency), so the same goal reads the same way for all four.
 */
const GOAL: Goal = { kind: 'min', value: 0.9 }

/** The large database: `BENCH_SCALE_DATABASE_URL`, or the bench database's name with `_scale`. */
export function scaleUrlOf(normalUrl: string): string {
  if (process.env.BENCH_SCALE_DATABASE_URL) return process.env.BENCH_SCALE_DATABASE_URL
  const url = new URL(normalUrl)
  url.pathname = `${url.pathname}_scale`
  return url.toString()
}

interface Size {
  info: SeedInfo
  shape: SeedShape
  url: string
  entries: number
  bytes: number
  seedSeconds: number
}

async function sizeOf(url: string, info: SeedInfo, shape: SeedShape): Promise<Size> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const [row] = await sql<{ entries: string; bytes: string; seconds: string }[]>`
      select (select sum(total) from entry_counts)::text as entries,
             pg_database_size(current_database())::text as bytes,
             (select seconds from bench_seed)::text as seconds`
    return { info, shape, url, entries: Number(row!.entries), bytes: Number(row!.bytes), seedSeconds: Number(row!.seconds) }
  } finally {
    await sql.end()
  }
}

/** `count` users spread evenly over the seed's numbering (so their rows sit all over the table). */
function spreadUsers(info: SeedInfo, shape: SeedShape, count: number): Array<{ email: string; userId: number }> {
  const step = Math.max(1, Math.floor(shape.users / count))
  return Array.from({ length: count }, (_, i) => {
    const n = 1 + i * step
    return { email: userEmail(n, shape), userId: info.userIds[n - 1]! }
  })
}

interface Prepared {
  service: Service
  accounts: Account[]
  deep: Account
  targets: Array<{ account: Account; id: number }>
}

async function prepare(run: ScaleRun, name: string, size: Size): Promise<Prepared> {
  const service = await run.startMoodlog(name, { DATABASE_URL: size.url, CACHE: 'off' })
  const limit = pLimit(4)
  const users = spreadUsers(size.info, size.shape, run.accounts)
  const accounts = await Promise.all(users.map((u) => limit(() => run.signIn(service, u.email, u.userId))))
  const deep = await run.signIn(service, DEEP_EMAIL, size.info.deepUserId)
  const byUser = new Map(accounts.map((a) => [a.userId, a]))
  // Users of the large seed have 90 entries: skip fewer than the normal scenarios do, the same on both sides.
  const ids = await sampleEntryIds(
    size.url,
    accounts.map((a) => a.userId),
    2,
    50,
  )
  if (ids.length === 0) throw new Error(`no entries to read on ${name}`)
  return { service, accounts, deep, targets: ids.map((e) => ({ account: byUser.get(e.userId)!, id: e.id })) }
}

const bearer = (account: Account) => ({ authorization: account.authorization })

const workloads: Array<{ id: string; oneConnection: boolean; requests(p: Prepared): HttpRequest[]; what: string }> = [
  {
    id: 'list-nocache',
    oneConnection: false,
    what: 'GET /entries?limit=20, CACHE=off',
    requests: (p) => p.accounts.map((a) => ({ path: '/entries?limit=20', headers: bearer(a) })),
  },
  {
    id: 'get-one',
    oneConnection: false,
    what: 'GET /entries/{id}',
    requests: (p) => p.targets.map((t) => ({ path: `/entries/${t.id}`, headers: bearer(t.account) })),
  },
  {
    id: 'create',
    oneConnection: false,
    what: 'POST /entries',
    requests: (p) => p.accounts.map((a, n) => ({ method: 'POST', path: '/entries', headers: bearer(a), body: newEntry(n) })),
  },
  {
    id: 'deep-first-page',
    oneConnection: true,
    what: 'first page of the user with 1,000,020 entries, one connection (one request after the other)',
    requests: (p) => [{ path: '/entries?limit=20', headers: bearer(p.deep) }],
  },
]

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`

export async function runScale(run: ScaleRun): Promise<void> {
  const { log } = run
  log(`moodlog scale benchmark${run.quick ? ' (--quick)' : ''}: normal seed vs ${SCALE_SEED.users.toLocaleString('en')} users`)
  const normalInfo = await ensureSeed(run.normalUrl, log, NORMAL_SEED)
  const scaleInfo = await ensureSeed(run.scaleUrl, log, SCALE_SEED)
  await resetRunData(run.normalUrl, normalInfo)
  await resetRunData(run.scaleUrl, scaleInfo)
  const normal = await sizeOf(run.normalUrl, normalInfo, NORMAL_SEED)
  const scale = await sizeOf(run.scaleUrl, scaleInfo, SCALE_SEED)
  for (const [label, size] of [
    ['normal', normal],
    ['scale', scale],
  ] as const) {
    log(
      `  ${label}: ${size.info.userIds.length + 1} users, ${size.entries.toLocaleString('en')} entries, database ${megabytes(size.bytes)}, ` +
        `seeded in ${size.seedSeconds.toFixed(0)} s${size.info.reused ? ' (an earlier run)' : ''}`,
    )
  }

  const [atNormal, atScale] = await Promise.all([prepare(run, 'moodlog (normal size)', normal), prepare(run, 'moodlog (scale)', scale)])
  const results: ScenarioResult[] = []
  const details: ScenarioDetail[] = []
  for (const workload of workloads) {
    const one = workload.oneConnection
    const side = (label: string, p: Prepared): Side =>
      (one ? sequentialSide : httpSide)(label, {
        url: p.service.url,
        requests: workload.requests(p),
        connections: one ? DEPTH_CONNECTIONS : CONNECTIONS,
      })
    const { a, b } = await alternate(side('scale', atScale), side('normal size', atNormal), one ? run.slowTiming : run.timing)
    const problems = [invalidSide(a), invalidSide(b)].filter((p): p is string => p !== undefined)
    const result =
      problems.length > 0
        ? { ...scenarioResult(workload.id, null, null, GOAL), met: false }
        : scenarioResult(workload.id, a.rps, b.rps, GOAL)
    results.push(result)
    const range = (s: typeof a) =>
      `${s.rpsRange?.map((x) => x.toFixed(0)).join('–')} req/s, p50 ${s.p50Range?.map((ms) => ms.toFixed(2)).join('–')} ms`
    details.push({
      id: workload.id,
      unit: 'req/s',
      metric: 'req/s',
      a,
      b,
      note: [`${workload.what}; rounds: scale ${range(a)}; normal ${range(b)}`, ...problems.map((p) => `INVALID: ${p}`)].join(' — '),
    })
    log(`  ${workload.id.padEnd(16)} scale/normal ${result.ratio ?? '—'} (${result.met ? 'met' : 'MISSED'})`)
  }
  await Promise.all([atNormal.service.stop(), atScale.service.stop()])
  await resetRunData(run.normalUrl, normalInfo)
  await resetRunData(run.scaleUrl, scaleInfo)

  const report = {
    date: new Date().toISOString(),
    seeds: Object.fromEntries(
      [
        ['normal', normal],
        ['scale', scale],
      ].map(([label, size]) => {
        const s = size as Size
        return [label, { users: s.info.userIds.length + 1, entries: s.entries, databaseBytes: s.bytes, seedSeconds: s.seedSeconds }]
      }),
    ),
    scenarios: results,
  }
  const table = formatTable({ date: report.date, machine: { cpu: '', cores: 0, node: '', postgres: '' }, scenarios: results }, details)
  log(`\nA = scale, B = normal size\n${table}\n`)
  for (const d of details) log(`  ${d.id}: ${d.note}`)
  const file = path.join(ROOT, 'bench/results', run.quick ? 'scale-quick.json' : 'scale.json')
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`)
  log(`wrote ${path.relative(ROOT, file)}`)
}
