/**
 * The scenarios of issue 6, each comparing side A (moodlog as configured for it) with side B (its
 * baseline) in alternation. Each returns the JSON row and the details for the table.
 */
import os from 'node:os'
import { verify } from '@node-rs/argon2'
import pLimit from 'p-limit'
import {
  alternate,
  alternateAll,
  drive,
  httpSide,
  sequentialSide,
  settle,
  type HttpRequest,
  type Load,
  type Side,
  type Timing,
} from './load.js'
import {
  fastestSide,
  invalidSide,
  scenarioResult,
  type Goal,
  type ScenarioDetail,
  type ScenarioResult,
  type SideSummary,
} from './report.js'
import type { Service } from './processes.js'
import type { Receiver } from './webhook-receiver.js'
import { BENCH_PASSWORD, DEEP_DEPTH, ENTRIES_PER_USER } from './seed.js'

/** A signed-in bench user. */
export interface Account {
  userId: number
  email: string
  authorization: string
}

export interface Outcome {
  result: ScenarioResult
  detail: ScenarioDetail
}

/** Connections for throughput scenarios (the 100). */
export const CONNECTIONS = 100
/**
 * Connections for the p50-latency depth scenarios: one, so p50 is one request's latency and not
 * queueing (at 100 connections an OFFSET-1,000,000 page, ~1 s of database work, would time out).
 */
export const DEPTH_CONNECTIONS = 1
/** Concurrent login requests during login-flood-p99. */
export const FLOOD_CONNECTIONS = 50

export const GOALS = {
  'list-nocache': { kind: 'min', value: 0.9 },
  'list-cached': { kind: 'min', value: 2.5 },
  'get-one': { kind: 'min', value: 0.75 },
  create: { kind: 'min', value: 0.8 },
  'create-webhook': { kind: 'min', value: 0.8 },
  'deep-cursor': { kind: 'max', value: 1.5 },
  'deep-page': { kind: 'report' },
  'deep-first-page': { kind: 'max', value: 1.5 },
  'ratelimit-redis': { kind: 'min', value: 0.7 },
  login: { kind: 'min', value: 0.9 },
  'login-flood-p99': { kind: 'max', value: 1.5 },
  'embedded-vs-server': { kind: 'min', value: 0.6 },
  'export-memory': { kind: 'max', value: 50, unit: 'MB' },
  rss: { kind: 'max', value: 150, unit: 'MB' },
} as const satisfies Record<string, Goal>

export type ScenarioId = keyof typeof GOALS
export const SCENARIO_IDS = Object.keys(GOALS) as ScenarioId[]

/**
 * Runs A and B in alternation and reports A's `measure` against B's. A side with more than 1% failed
 * requests invalidates the scenario: it is reported as not measured (and missing its goal).
 */
async function compare(id: ScenarioId, measure: 'rps' | 'p50' | 'p99', note: string, a: Side, b: Side, timing: Timing): Promise<Outcome> {
  const { a: sa, b: sb } = await alternate(a, b, timing)
  return judge(id, measure, note, sa, sb)
}

function judge(id: ScenarioId, measure: 'rps' | 'p50' | 'p99', note: string, sa: SideSummary, sb: SideSummary): Outcome {
  const problems = [invalidSide(sa), invalidSide(sb)].filter((p): p is string => p !== undefined)
  const metric = measure === 'rps' ? 'req/s' : `${measure} latency`
  const unit = measure === 'rps' ? 'req/s' : 'ms'
  const detail: ScenarioDetail = { id, unit, metric, a: sa, b: sb, note: [note, ...problems.map((p) => `INVALID: ${p}`)].join(' — ') }
  if (problems.length > 0) {
    const result = scenarioResult(id, null, null, GOALS[id])
    return { result: { ...result, met: GOALS[id].kind === 'report' ? null : false }, detail }
  }
  return { result: scenarioResult(id, sa[measure], sb[measure], GOALS[id]), detail }
}

/**
 * moodlog against every bare driver setup, all in the same rounds (A B₁ B₂ B₃ B₄, three times):
 * the fastest setup's median is the baseline, so the baseline is chosen from the very rounds it is
 * measured in and cannot be a probe's lucky moment. The note lists every setup's median and spread.
 */
async function againstFastest(
  id: ScenarioId,
  note: string,
  a: Side,
  bares: Bare[],
  load: (bare: Bare) => Load,
  timing: Timing,
): Promise<Outcome> {
  const [sa, ...setups] = await alternateAll([a, ...bares.map((bare) => httpSide(bare.label, load(bare)))], timing)
  const best = fastestSide(setups)
  const listed = setups
    .map((setup, i) => `${setup.label} ${setup.rps.toFixed(0)} (${roundsRange(setup)})${i === best ? ' ←' : ''}`)
    .join(', ')
  return judge(id, 'rps', `${note}; baseline ${setups[best]!.label} — bare setups, median req/s (rounds): ${listed}`, sa!, setups[best]!)
}

const throughput = (id: ScenarioId, note: string, a: Side, b: Side, timing: Timing) => compare(id, 'rps', note, a, b, timing)
const latency = (id: ScenarioId, which: 'p50' | 'p99', note: string, a: Side, b: Side, timing: Timing) =>
  compare(id, which, note, a, b, timing)

const listPath = '/entries?limit=20'
const bearer = (account: Account) => ({ authorization: account.authorization })

export const listRequests = (accounts: Account[]): HttpRequest[] => accounts.map((a) => ({ path: listPath, headers: bearer(a) }))

export interface Target {
  account: Account
  id: number
}

export const newEntry = (n: number) =>
  JSON.stringify({ text: `Benchmark entry ${n}: wrote this during a load test, mood steady.`, mood: 1 + (n % 10), category: 'bench' })

/** What the bare baseline is sent for each workload: the same work, the user named in `?user=`. */
export const bareRequests = {
  list: (accounts: Account[]): HttpRequest[] => accounts.map((a) => ({ path: `${listPath}&user=${a.userId}` })),
  getOne: (targets: Target[]): HttpRequest[] => targets.map((t) => ({ path: `/entries/${t.id}?user=${t.account.userId}` })),
  create: (accounts: Account[]): HttpRequest[] =>
    accounts.map((a, n) => ({ method: 'POST', path: `/entries?user=${a.userId}`, body: newEntry(n) })),
}

/** One bare driver setup (a baseline server process) and its name. */
export interface Bare {
  service: Service
  label: string
}

const bareLoad =
  (requests: HttpRequest[]) =>
  (bare: Bare): Load => ({ url: bare.service.url, requests, connections: CONNECTIONS })

/** `GET /entries` against the bare list query; the moodlog side runs with the cache off or on. */
export function list(cache: 'off' | 'on', moodlog: Service, bares: Bare[], accounts: Account[], timing: Timing): Promise<Outcome> {
  return againstFastest(
    cache === 'off' ? 'list-nocache' : 'list-cached',
    `GET ${listPath}, CACHE=${cache}${cache === 'on' ? ' (hits after warm-up)' : ''}, ${accounts.length} users in turn`,
    httpSide('moodlog', { url: moodlog.url, requests: listRequests(accounts), connections: CONNECTIONS }),
    bares,
    bareLoad(bareRequests.list(accounts)),
    timing,
  )
}

export function getOne(moodlog: Service, bares: Bare[], targets: Target[], timing: Timing): Promise<Outcome> {
  return againstFastest(
    'get-one',
    `GET /entries/{id}, ${targets.length} (user, entry) pairs in turn`,
    httpSide('moodlog', {
      url: moodlog.url,
      requests: targets.map((t) => ({ path: `/entries/${t.id}`, headers: bearer(t.account) })),
      connections: CONNECTIONS,
    }),
    bares,
    bareLoad(bareRequests.getOne(targets)),
    timing,
  )
}

export function create(moodlog: Service, bares: Bare[], accounts: Account[], timing: Timing): Promise<Outcome> {
  return againstFastest(
    'create',
    `POST /entries (no Idempotency-Key), ${accounts.length} users in turn`,
    httpSide('moodlog', {
      url: moodlog.url,
      requests: accounts.map((a, n) => ({ method: 'POST', path: '/entries', headers: bearer(a), body: newEntry(n) })),
      connections: CONNECTIONS,
    }),
    bares,
    bareLoad(bareRequests.create(accounts)),
    timing,
  )
}

/** How many entries the user has (`total` of a list page). */
async function entryCount(moodlog: Service, account: Account): Promise<number> {
  const response = await fetch(`${moodlog.url}/entries?limit=1`, { headers: bearer(account) })
  if (response.status !== 200) throw new Error(`GET /entries: ${response.status} ${await response.text()}`)
  return ((await response.json()) as { total: number }).total
}

const p50Range = (side?: SideSummary) => (side?.p50Range ? side.p50Range.map((ms) => ms.toFixed(2)).join('–') : '—')
const roundsRange = (side?: SideSummary) => (side?.rpsRange ? side.rpsRange.map((rps) => rps.toFixed(0)).join('–') : '—')

/**
 * `POST /entries` of a user with one webhook endpoint (every entry event, which the server's own
 * worker delivers to `receiver` on loopback) vs a user without one, on the same process. Both write
 * in a transaction; the subscribed one also queues a delivery, which the worker leases, sends and
 * records meanwhile. One user's writes queue on its row of `entry_counts` until commit (migration
 * 005), so both sides stay well below the many-user rate of `create`.
 */
export async function createWebhook(
  moodlog: Service,
  subscribed: Account,
  plain: Account,
  receiver: Receiver,
  timing: Timing,
): Promise<Outcome> {
  const writes = (account: Account): HttpRequest[] =>
    Array.from({ length: 10 }, (_, n) => ({ method: 'POST', path: '/entries', headers: bearer(account), body: newEntry(n) }))
  const before = await entryCount(moodlog, subscribed)
  const outcome = await throughput(
    'create-webhook',
    'POST /entries (no Idempotency-Key), one user a side, CACHE=off; A: the user has one webhook endpoint (every entry event), ' +
      'delivered by the worker to a receiver on 127.0.0.1; B: a user without one',
    httpSide('webhook', { url: moodlog.url, requests: writes(subscribed), connections: CONNECTIONS }),
    httpSide('no webhook', { url: moodlog.url, requests: writes(plain), connections: CONNECTIONS }),
    timing,
  )
  const created = (await entryCount(moodlog, subscribed)) - before
  const { a, b } = outcome.detail
  outcome.detail.note +=
    `; req/s of the rounds: A ${roundsRange(a)}, B ${roundsRange(b)}; ` +
    `the receiver got ${receiver.received.toLocaleString('en')} deliveries (200 OK) of the ${created.toLocaleString('en')} entries A created ` +
    `(the rest still queued at the end)`
  return outcome
}

/** The cursor pointing after the first DEEP_DEPTH rows: `nextCursor` of the page that ends there. */
export async function deepCursor(moodlog: Service, deep: Account): Promise<string> {
  const page = DEEP_DEPTH / 20
  const response = await fetch(`${moodlog.url}/entries?limit=20&page=${page}`, {
    headers: bearer(deep),
    signal: AbortSignal.timeout(60_000),
  })
  if (response.status !== 200) throw new Error(`deep page ${page}: ${response.status} ${await response.text()}`)
  const body = (await response.json()) as { nextCursor: string | null }
  if (!body.nextCursor) throw new Error(`deep page ${page} has no nextCursor`)
  return body.nextCursor
}

export function deepCursorScenario(moodlog: Service, deep: Account, cursor: string, timing: Timing): Promise<Outcome> {
  const first = sequentialSide('first page', {
    url: moodlog.url,
    requests: [{ path: listPath, headers: bearer(deep) }],
    connections: DEPTH_CONNECTIONS,
  })
  return latency(
    'deep-cursor',
    'p50',
    `user with ${DEEP_DEPTH.toLocaleString('en')}+ entries: cursor page after ${DEEP_DEPTH.toLocaleString('en')} rows vs first page, ${DEPTH_CONNECTIONS} connection, CACHE=off`,
    sequentialSide('deep cursor', {
      url: moodlog.url,
      requests: [{ path: `${listPath}&cursor=${encodeURIComponent(cursor)}`, headers: bearer(deep) }],
      connections: DEPTH_CONNECTIONS,
    }),
    first,
    timing,
  )
}

/**
 * `perRound`: requests per round on the OFFSET-1,000,000 side (about a second each) — a count,
 * not a duration, so that every round finishes some.
 */
export function deepPageScenario(moodlog: Service, deep: Account, timing: Timing, perRound: number): Promise<Outcome> {
  const page = DEEP_DEPTH / 20 + 1
  return latency(
    'deep-page',
    'p50',
    `page=${page}&limit=20 (OFFSET ${DEEP_DEPTH.toLocaleString('en')}; ${perRound} request${perRound === 1 ? '' : 's'} a round) vs first page, ${DEPTH_CONNECTIONS} connection, CACHE=off`,
    sequentialSide('deep page', {
      url: moodlog.url,
      requests: [{ path: `${listPath}&page=${page}`, headers: bearer(deep) }],
      connections: DEPTH_CONNECTIONS,
      amount: perRound,
    }),
    sequentialSide('first page', {
      url: moodlog.url,
      requests: [{ path: listPath, headers: bearer(deep) }],
      connections: DEPTH_CONNECTIONS,
    }),
    timing,
  )
}

/**
 * The first page of the deep user (1,000,020 entries) vs that of a regular user (1,000): what a
 * journal's size costs a page that reads 21 rows. The unfiltered `total` is the kept count of
 * `entry_counts`, one key lookup at any size; a count of the rows would make this ratio grow with
 * the journal.
 */
export async function deepFirstPageScenario(moodlog: Service, deep: Account, regular: Account, timing: Timing): Promise<Outcome> {
  const outcome = await latency(
    'deep-first-page',
    'p50',
    `${listPath}: user with ${DEEP_DEPTH.toLocaleString('en')}+ entries vs a user with ${ENTRIES_PER_USER.toLocaleString('en')}, ${DEPTH_CONNECTIONS} connection, CACHE=off`,
    sequentialSide('deep user', {
      url: moodlog.url,
      requests: [{ path: listPath, headers: bearer(deep) }],
      connections: DEPTH_CONNECTIONS,
    }),
    sequentialSide(`${ENTRIES_PER_USER.toLocaleString('en')} entries`, {
      url: moodlog.url,
      requests: [{ path: listPath, headers: bearer(regular) }],
      connections: DEPTH_CONNECTIONS,
    }),
    timing,
  )
  const { a, b } = outcome.detail
  outcome.detail.note += `; p50 of the rounds: A ${p50Range(a)} ms, B ${p50Range(b)} ms`
  return outcome
}

export function rateLimitRedis(limited: Service, unlimited: Service, accounts: Account[], timing: Timing): Promise<Outcome> {
  return throughput(
    'ratelimit-redis',
    `GET ${listPath}, both with Redis and CACHE=off; A: RATE_LIMIT_MAX=1e9, B: RATE_LIMIT_MAX=0`,
    httpSide('redis limit', { url: limited.url, requests: listRequests(accounts), connections: CONNECTIONS }),
    httpSide('no limit', { url: unlimited.url, requests: listRequests(accounts), connections: CONNECTIONS }),
    timing,
  )
}

const loginRequests = (accounts: Account[]): HttpRequest[] =>
  accounts.map((a) => ({ method: 'POST', path: '/login', body: JSON.stringify({ email: a.email, password: BENCH_PASSWORD }) }))

/**
 * Raw argon2id verifications per second in this process: the seeded hash (so the same parameters
 * as every login), `cores` at a time, as the server's PasswordHasher allows.
 */
export function rawArgon2Side(passwordHash: string): Side {
  const cores = os.availableParallelism()
  return {
    label: `raw argon2id ×${cores}`,
    async run(seconds) {
      const limit = pLimit(cores)
      const latencies: number[] = []
      const until = performance.now() + seconds * 1000
      const worker = async () => {
        while (performance.now() < until) {
          const started = performance.now()
          await limit(() => verify(passwordHash, BENCH_PASSWORD))
          latencies.push(performance.now() - started)
        }
      }
      const started = performance.now()
      await Promise.all(Array.from({ length: cores }, worker))
      const elapsed = (performance.now() - started) / 1000
      latencies.sort((x, y) => x - y)
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN
      return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), requests: latencies.length, failures: 0, failed: {} }
    },
  }
}

export function login(
  moodlog: Service,
  accounts: Account[],
  passwordHash: string,
  timing: Timing,
  connections = CONNECTIONS,
): Promise<Outcome> {
  return throughput(
    'login',
    `POST /login (${accounts.length} users in turn, ${connections} connections) vs raw argon2id verifications/s in-process, concurrency = ${os.availableParallelism()} cores`,
    httpSide('moodlog', { url: moodlog.url, requests: loginRequests(accounts), connections, spread: true }),
    rawArgon2Side(passwordHash),
    timing,
  )
}

export function loginFlood(moodlog: Service, accounts: Account[], timing: Timing, floodConnections = FLOOD_CONNECTIONS): Promise<Outcome> {
  const reads = { url: moodlog.url, requests: listRequests(accounts), connections: CONNECTIONS }
  const flood = { url: moodlog.url, requests: loginRequests(accounts), connections: floodConnections, spread: true }
  const flooded: Side = {
    label: 'during flood',
    async run(seconds) {
      const [sample] = await Promise.all([drive(reads, seconds), drive(flood, seconds)])
      await Promise.all([settle(reads), settle(flood)])
      return sample
    },
  }
  return latency(
    'login-flood-p99',
    'p99',
    `GET ${listPath} (CACHE=off, ${CONNECTIONS} connections) while ${floodConnections} connections send POST /login, vs without`,
    flooded,
    httpSide('no flood', reads),
    timing,
  )
}

export function embeddedVsServer(
  embedded: Service,
  embeddedAccount: Account,
  server: Service,
  serverAccount: Account,
  timing: Timing,
): Promise<Outcome> {
  return throughput(
    'embedded-vs-server',
    `GET ${listPath}, one user of 1,000 entries each, CACHE=off; A: embedded PGlite, B: Postgres server`,
    httpSide('embedded', { url: embedded.url, requests: listRequests([embeddedAccount]), connections: CONNECTIONS }),
    httpSide('server', { url: server.url, requests: listRequests([serverAccount]), connections: CONNECTIONS }),
    timing,
  )
}

export function rss(megabytes: number | undefined, note: string): Outcome {
  return {
    result: scenarioResult('rss', megabytes ?? null, null, GOALS.rss),
    detail: { id: 'rss', unit: 'MB', metric: 'RSS', note },
  }
}

/** A scenario that could not run: reported as missing its goal, with the reason. */
export function failed(id: ScenarioId, error: unknown): Outcome {
  const message = error instanceof Error ? error.message.split('\n')[0]! : String(error)
  const result = scenarioResult(id, null, null, GOALS[id])
  return {
    result: { ...result, met: result.met === null ? null : false },
    detail: { id, unit: '', metric: 'not measured', note: `FAILED: ${message}` },
  }
}
