import postgres from 'postgres'
import type { Database, Lane, RawQueryable, Transaction } from './types.js'
import { CircuitBreaker, type BreakerLog } from './breaker.js'
import { currentDeadline, DeadlineExceededError, requestDeadlines } from './deadline.js'
import { DatabaseUnavailableError, isConnectionError } from './errors.js'
import { applyTransactionOptions } from './transaction-options.js'

export interface ServerDatabaseOptions {
  url: string
  /** Connections of the main pool. */
  poolSize: number
  /** Connections of the scan lane (`Database.scans`); opened only when used. Default 2. */
  scanPoolSize?: number
  /** Connections of the point-read lane (`Database.points`). Default 1. */
  pointPoolSize?: number
  /** Connections of the export lane (`Database.exports`); opened only when used. Default 1. */
  exportPoolSize?: number
  /** Server-side cap on any one statement, so a stuck query cannot hold a connection forever. */
  statementTimeoutMs: number
  /** TCP connect plus authentication of one new connection. Default 2 s. */
  connectTimeoutMs?: number
  /** Longest wait for a connection of the pool before a statement or transaction is refused. Default 2 s. */
  acquireTimeoutMs?: number
  /** Connection failures in a row that open the circuit breaker. Default 5. */
  breakerThreshold?: number
  /** While the breaker is open, how often a probe tries the database. Default 1 s. */
  breakerProbeMs?: number
  log?: BreakerLog
}

/** int8 (counts, identity ids) as JS numbers, as PGlite returns them: one shape for both adapters. */
const int8AsNumber = {
  to: 20,
  from: [20],
  serialize: (value: number | bigint) => String(value),
  parse: (value: string) => Number(value),
}

function rethrow(error: unknown): never {
  throw isConnectionError(error) ? new DatabaseUnavailableError(error) : error
}

/** No connection of the pool became free in time. */
class PoolWaitTimeout extends Error {
  override name = 'PoolWaitTimeout'
}

function acquireTimeout(ms: number): DatabaseUnavailableError {
  return new DatabaseUnavailableError(new PoolWaitTimeout(`no database connection free within ${ms} ms`))
}

/**
 * Cancels a statement: taken out of the queue when not sent yet, otherwise a cancel request on a
 * connection of its own. postgres.js's `cancel()` drops the promise of that request, so a failed
 * one (server unreachable) would be an unhandled rejection; this keeps and swallows it.
 */
function cancelQuietly(pending: Promise<unknown>): void {
  const query = pending as unknown as { canceller: ((query: unknown) => Promise<void> | undefined) | null }
  const canceller = query.canceller
  if (!canceller) return
  query.canceller = null
  canceller(pending)?.catch(() => {})
}

/**
 * Awaits a statement of the root pool, cancelling it if no connection has taken it within `ms`.
 * postgres.js sets `state` when it hands a query to a connection; until then the query waits for
 * one (all connecting, full or reserved), and `cancel()` only takes it out of that queue. A query
 * that was sent is never cancelled here: `statement_timeout` bounds it on the server.
 */
async function withinAcquireTimeout<T>(pending: Promise<Iterable<T>>, ms: number): Promise<T[]> {
  let expired = false
  const timer = setTimeout(() => {
    if ((pending as unknown as { state: unknown }).state == null) {
      expired = true
      cancelQuietly(pending)
    }
  }, ms)
  try {
    // A plain array, as PGlite returns: postgres.js results carry extra fields.
    return Array.from(await pending)
  } catch (error) {
    throw expired ? acquireTimeout(ms) : error
  } finally {
    clearTimeout(timer)
  }
}

/** `sql.reserve()` with a bound on the wait; a connection reserved after the caller gave up goes straight back. */
async function reserveWithin(sql: postgres.Sql, ms: number): Promise<postgres.ReservedSql> {
  const reservation = sql.reserve()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reservation.then(
        (late) => late.release(),
        () => {},
      )
      reject(acquireTimeout(ms))
    }, ms)
  })
  try {
    return await Promise.race([reservation, timeout])
  } finally {
    clearTimeout(timer)
  }
}

interface Pool {
  sql: postgres.Sql
  lane: Lane
  /** Statements of the pool whose values stay bytes; counted, guarded and bounded as the lane's. */
  raw: RawQueryable
  usage: { inFlight: number }
  probe(): Promise<void>
}

interface Limits {
  acquireTimeoutMs: number
  connectTimeoutMs: number
}

function openPool(options: ServerDatabaseOptions, limits: Limits, breaker: CircuitBreaker, max: number, name: string): Pool {
  const sql = postgres(options.url, {
    max,
    connect_timeout: limits.connectTimeoutMs / 1000,
    // postgres.js waits up to 20 s between reconnects after repeated failures; the breaker already
    // keeps a dead server from being hammered, so a recovered one is reached within half a second.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    idle_timeout: 60,
    max_lifetime: 30 * 60,
    onnotice: () => {},
    types: { int8: int8AsNumber },
    connection: {
      application_name: name,
      statement_timeout: options.statementTimeoutMs,
    },
  })
  const usage = { inFlight: 0 }

  /** Every call on the pool: refused at once while the breaker is open, and its outcome reported to it. */
  const guarded = async <T>(operation: () => Promise<T>): Promise<T> => {
    breaker.check()
    try {
      const result = await operation()
      breaker.succeeded()
      return result
    } catch (error) {
      if (error instanceof DeadlineExceededError) throw error
      const cause = error instanceof DatabaseUnavailableError ? error.cause : error
      // A wait for a connection counts as a failure only when nothing has completed meanwhile: a
      // busy pool keeps finishing statements, an unreachable server (connects that never complete) does not.
      if (isConnectionError(cause) || (cause instanceof PoolWaitTimeout && breaker.quietForMs() >= limits.acquireTimeoutMs))
        breaker.failed()
      else if (!(error instanceof DatabaseUnavailableError)) breaker.succeeded()
      rethrow(error)
    }
  }

  const rootQuery = (text: string, params: readonly unknown[], raw = false) => {
    const statement = sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })
    // `raw()` marks the same pending query (and returns it): queue state and cancel stay as they are.
    const pending: Promise<Iterable<unknown>> = raw ? statement.raw() : statement
    const run = () => withinAcquireTimeout(pending, limits.acquireTimeoutMs)
    const deadline = currentDeadline()
    // Outside a transaction a statement commits by itself: it counts as a commit of the request.
    return deadline ? deadline.track(run, { commits: true, cancel: () => cancelQuietly(pending) }) : run()
  }

  const counted = async <T>(operation: () => Promise<T>): Promise<T> => {
    usage.inFlight += 1
    try {
      return await guarded(operation)
    } finally {
      usage.inFlight -= 1
    }
  }

  const lane: Lane = {
    async query(text, params = []) {
      return (await counted(() => rootQuery(text, params))) as never
    },
    /**
     * On a connection reserved before anything is sent, not `sql.begin()`: postgres.js 3.4.9 can
     * write a `BEGIN` that fills a connection's pipeline without reserving that connection, leaving
     * a transaction open that unrelated queries then run inside (porsager/postgres#823, #1189).
     * `sql.reserve()` takes an idle connection out of the pool first, so that cannot happen.
     */
    async transaction(fn, options) {
      const deadline = currentDeadline()
      deadline?.check()
      usage.inFlight += 1
      let reserved: postgres.ReservedSql | undefined
      // A connection that failed under us was already taken back by the pool (and will reconnect);
      // releasing it as well would hand a socketless connection to the next query.
      let broken = false
      /** One statement of the transaction; a commit is never cancelled, only waited for. */
      const run = async <T>(pending: Promise<T>, commits = false): Promise<T> => {
        try {
          const result = await (deadline
            ? deadline.track(() => pending, { commits, cancel: commits ? undefined : () => cancelQuietly(pending) })
            : pending)
          breaker.succeeded()
          return result
        } catch (error) {
          if (isConnectionError(error)) broken = true
          throw error
        }
      }
      try {
        return await guarded(async () => {
          reserved = await reserveWithin(sql, limits.acquireTimeoutMs)
          const connection = reserved
          await run(connection.unsafe('begin'))
          const transaction: Transaction = {
            async query(text, params = []) {
              try {
                return Array.from(
                  await run(connection.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })),
                ) as never
              } catch (error) {
                rethrow(error)
              }
            },
            async exec(script) {
              await run(connection.unsafe(script).simple())
            },
          }
          try {
            await applyTransactionOptions(transaction, options)
            const result = await fn(transaction)
            // Checked and sent in one turn of the event loop: a request given up before this commits nothing.
            await run(connection.unsafe('commit'), true)
            return result
          } catch (error) {
            if (!broken) await connection.unsafe('rollback').catch(() => {})
            throw error
          }
        })
      } finally {
        if (!broken) reserved?.release()
        usage.inFlight -= 1
      }
    },
  }
  return {
    sql,
    lane,
    raw: {
      async queryRaw(text, params = []) {
        return (await counted(() => rootQuery(text, params, true))) as Array<Array<Buffer | null>>
      },
    },
    usage,
    // Outside any request's deadline: the probe runs from a timer started by some request.
    probe: () => requestDeadlines.exit(async () => void (await rootQuery('select 1', []))),
  }
}

export function openServerDatabase(options: ServerDatabaseOptions): Database {
  const scanPoolSize = options.scanPoolSize ?? 2
  const pointPoolSize = options.pointPoolSize ?? 1
  const exportPoolSize = options.exportPoolSize ?? 1
  const limits: Limits = { connectTimeoutMs: options.connectTimeoutMs ?? 2000, acquireTimeoutMs: options.acquireTimeoutMs ?? 2000 }
  // One breaker for all pools: they reach the same server.
  const breaker: CircuitBreaker = new CircuitBreaker({
    threshold: options.breakerThreshold ?? 5,
    probeIntervalMs: options.breakerProbeMs ?? 1000,
    probe: () => main.probe(),
    log: options.log,
  })
  const main = openPool(options, limits, breaker, options.poolSize, 'moodlog')
  const scans = openPool(options, limits, breaker, scanPoolSize, 'moodlog-scans')
  const points = openPool(options, limits, breaker, pointPoolSize, 'moodlog-points')
  const exports = openPool(options, limits, breaker, exportPoolSize, 'moodlog-export')
  // Health checks on a connection of their own: a pool busy with requests is load, not an outage,
  // and a probe queued behind it would outwait the check and take a busy instance out of rotation.
  const health = openPool(options, limits, breaker, 1, 'moodlog-health')

  return {
    kind: 'server',
    ...main.lane,
    scans: scans.lane,
    points: points.lane,
    exports: exports.raw,
    async ping() {
      await health.lane.query('select 1')
    },
    usage: () => [
      { pool: 'main', size: options.poolSize, inFlight: main.usage.inFlight },
      { pool: 'scans', size: scanPoolSize, inFlight: scans.usage.inFlight },
      { pool: 'points', size: pointPoolSize, inFlight: points.usage.inFlight },
      { pool: 'exports', size: exportPoolSize, inFlight: exports.usage.inFlight },
    ],
    async close() {
      breaker.stop()
      await Promise.all([main, scans, points, exports, health].map((pool) => pool.sql.end({ timeout: 5 })))
    },
  }
}
