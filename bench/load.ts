/** Driving servers with autocannon, and alternating sides A B A B … with medians per side. */
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { median, type SideSummary } from './report.js'

export interface Sample {
  rps: number
  p50: number
  p99: number
  /** Completed requests, failed or not. */
  requests: number
  failures: number
  /** Count per non-2xx status (and `errors`/`timeouts`), to say what failed. */
  failed: Record<string, number>
}

export interface HttpRequest {
  method?: 'GET' | 'POST'
  path: string
  headers?: Record<string, string>
  body?: string
}

export interface Load {
  url: string
  /** Cycled through by every connection, in order (or, with `spread`, handed out in turn across all of them). */
  requests: HttpRequest[]
  connections: number
  /**
   * Each request goes to the next connection that is free, so the connections never walk the list
   * in step: 16 connections starting together would otherwise all sign in as the first user at once,
   * and the sign-in throttle (10 at a time per account and address) refuses the rest.
   */
  spread?: boolean
  /** Run until this many requests completed instead of for the given time (for very slow requests). */
  amount?: number
}

const asAutocannon = (r: HttpRequest) => ({
  method: r.method ?? 'GET',
  path: r.path,
  headers: { ...(r.body ? { 'content-type': 'application/json' } : {}), ...r.headers },
  ...(r.body ? { body: r.body } : {}),
})

/** One request slot that takes the next of `requests` each time any connection sends. */
function inTurn(requests: HttpRequest[]) {
  let next = 0
  return { ...asAutocannon(requests[0]!), setupRequest: () => asAutocannon(requests[next++ % requests.length]!) }
}

/** One autocannon run; req/s counts 2xx responses only. */
export async function drive(load: Load, seconds: number): Promise<Sample> {
  const result = await autocannon({
    url: load.url,
    connections: load.connections,
    ...(load.amount ? { amount: load.amount } : { duration: seconds }),
    timeout: 10,
    // autocannon stops at the first sample tick after `duration`: tick often, so short runs stay short.
    sampleInt: 100,
    requests: load.spread ? [inTurn(load.requests)] : load.requests.map(asAutocannon),
  })
  const ok = result['2xx']
  const failed: Record<string, number> = {}
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) if (!status.startsWith('2')) failed[status] = count ?? 0
  if (result.errors) failed.errors = result.errors
  if (result.timeouts) failed.timeouts = result.timeouts
  return {
    rps: ok / Math.max(result.duration, 0.001),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: ok + result.non2xx + result.errors,
    failures: result.non2xx + result.errors + result.timeouts,
    failed,
  }
}

/** Nearest-rank quantile of sorted values (0 when there are none). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

/** One request on a kept-alive connection; its status, once the body has been read to the end. */
function send(agent: http.Agent, url: URL, request: HttpRequest): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { ...(request.body ? { 'content-type': 'application/json' } : {}), ...request.headers }
    const req = http.request(url, { method: request.method ?? 'GET', headers, agent, timeout: 10_000 }, (res) => {
      res.on('data', () => {})
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(request.body)
  })
}

/**
 * One connection, one request after the other, each timed to a fraction of a millisecond
 * (autocannon's histogram keeps whole milliseconds, and a first page takes less than one): for the
 * depth scenarios, whose measure is one request's latency. Runs for `seconds`, or `load.amount` requests.
 */
export async function driveSequential(load: Load, seconds: number): Promise<Sample> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const latencies: number[] = []
  const failed: Record<string, number> = {}
  const started = performance.now()
  const until = started + seconds * 1000
  try {
    for (let n = 0; load.amount ? n < load.amount : performance.now() < until; n++) {
      const request = load.requests[n % load.requests.length]!
      const sent = performance.now()
      const status = await send(agent, new URL(request.path, load.url), request).catch(() => 'errors' as const)
      if (typeof status === 'number' && status >= 200 && status < 300) latencies.push(performance.now() - sent)
      else failed[status] = (failed[status] ?? 0) + 1
    }
  } finally {
    agent.destroy()
  }
  const failures = Object.values(failed).reduce((sum, n) => sum + n, 0)
  latencies.sort((a, b) => a - b)
  return {
    rps: latencies.length / Math.max((performance.now() - started) / 1000, 0.001),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    requests: latencies.length + failures,
    failures,
    failed,
  }
}

/** A side driven by `driveSequential`: one connection, exact latencies; nothing is left queued. */
export const sequentialSide = (label: string, load: Load): Side => ({ label, run: (seconds) => driveSequential(load, seconds) })

/**
 * Waits until what the last run left queued in the server is done: requests autocannon abandoned
 * at the end of a run are still being served (a login queue can hold seconds of argon2 work), and
 * must not be billed to the other side. One more request of the same kind queues behind them.
 */
export async function settle(load: Load): Promise<void> {
  const first = load.requests[0]
  if (!first) return
  await fetch(new URL(first.path, load.url), {
    method: first.method ?? 'GET',
    headers: { ...(first.body ? { 'content-type': 'application/json' } : {}), ...first.headers },
    body: first.body,
    signal: AbortSignal.timeout(60_000),
  })
    .then((response) => response.arrayBuffer())
    .catch(() => {})
}

/** One side of a comparison: anything that can run for a given time and report a sample. */
export interface Side {
  label: string
  run(seconds: number): Promise<Sample>
}

export const httpSide = (label: string, load: Load): Side => ({
  label,
  async run(seconds) {
    const sample = await drive(load, seconds)
    // A run of a fixed number of requests waits for all of them: nothing is left behind.
    if (!load.amount) await settle(load)
    return sample
  },
})

export function summarise(label: string, samples: Sample[]): SideSummary {
  const failed: Record<string, number> = {}
  for (const sample of samples) for (const [what, n] of Object.entries(sample.failed)) failed[what] = (failed[what] ?? 0) + n
  return {
    label,
    rps: median(samples.map((s) => s.rps)),
    rpsRange: [Math.min(...samples.map((s) => s.rps)), Math.max(...samples.map((s) => s.rps))],
    p50: median(samples.map((s) => s.p50)),
    p50Range: [Math.min(...samples.map((s) => s.p50)), Math.max(...samples.map((s) => s.p50))],
    p99: median(samples.map((s) => s.p99)),
    p99Range: [Math.min(...samples.map((s) => s.p99)), Math.max(...samples.map((s) => s.p99))],
    requests: samples.reduce((sum, s) => sum + s.requests, 0),
    emptyRounds: samples.filter((s) => s.requests - s.failures <= 0).length,
    failures: samples.reduce((sum, s) => sum + s.failures, 0),
    failed,
    rounds: samples.length,
  }
}

export interface Timing {
  rounds: number
  seconds: number
  /** Unmeasured run of each side first: JIT, pools and caches warm. */
  warmupSeconds: number
}

/** Warms both sides, then runs A B A B … `rounds` times; the medians of each side. */
export async function alternate(a: Side, b: Side, timing: Timing): Promise<{ a: SideSummary; b: SideSummary }> {
  const [sa, sb] = await alternateAll([a, b], timing)
  return { a: sa!, b: sb! }
}

/**
 * Warms every side, then runs them in turn (A B C … A B C …) `rounds` times; the medians of each.
 * Sides measured in the same rounds share whatever the machine was doing meanwhile.
 */
export async function alternateAll(sides: Side[], timing: Timing): Promise<SideSummary[]> {
  if (timing.warmupSeconds > 0) for (const side of sides) await side.run(timing.warmupSeconds)
  const samples = sides.map(() => [] as Sample[])
  for (let round = 0; round < timing.rounds; round++) {
    for (const [i, side] of sides.entries()) samples[i]!.push(await side.run(timing.seconds))
  }
  return sides.map((side, i) => summarise(side.label, samples[i]!))
}
