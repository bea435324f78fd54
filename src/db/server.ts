import postgres from 'postgres'
import type { Database, Lane, Queryable } from './types.js'
import { DatabaseUnavailableError, isConnectionError } from './errors.js'

export interface ServerDatabaseOptions {
  url: string
  /** Connections of the main pool. */
  poolSize: number
  /** Connections of the scan lane (`Database.scans`); opened only when used. Default 2. */
  scanPoolSize?: number
  /** Server-side cap on any one statement, so a stuck query cannot hold a connection forever. */
  statementTimeoutMs: number
}

type Sql = postgres.Sql | postgres.TransactionSql

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

/** `counted`: the root pool's statements count towards `usage().inFlight`; a transaction's own do not. */
function queryable(sql: Sql, counted?: { inFlight: number }): Queryable {
  return {
    async query(text, params = []) {
      if (counted) counted.inFlight += 1
      try {
        // A plain array, as PGlite returns: postgres.js results carry extra fields.
        return Array.from(await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as never
      } catch (error) {
        rethrow(error)
      } finally {
        if (counted) counted.inFlight -= 1
      }
    },
  }
}

interface Pool {
  sql: postgres.Sql
  lane: Lane
  usage: { inFlight: number }
}

function openPool(options: ServerDatabaseOptions, max: number, name: string): Pool {
  const sql = postgres(options.url, {
    max,
    // Fail fast while Postgres is down; postgres.js reconnects lazily on the next query.
    connect_timeout: 5,
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
  const root = queryable(sql, usage)
  const lane: Lane = {
    query: root.query,
    /**
     * On a connection reserved before anything is sent, not `sql.begin()`: postgres.js 3.4.9 can
     * write a `BEGIN` that fills a connection's pipeline without reserving that connection, leaving
     * a transaction open that unrelated queries then run inside (porsager/postgres#823, #1189).
     * `sql.reserve()` takes an idle connection out of the pool first, so that cannot happen.
     */
    async transaction(fn) {
      usage.inFlight += 1
      let reserved: postgres.ReservedSql | undefined
      try {
        reserved = await sql.reserve()
        const connection = reserved
        await connection.unsafe('begin')
        try {
          const result = await fn({
            ...queryable(connection),
            async exec(script) {
              await connection.unsafe(script).simple()
            },
          })
          await connection.unsafe('commit')
          return result
        } catch (error) {
          await connection.unsafe('rollback').catch(() => {})
          throw error
        }
      } catch (error) {
        rethrow(error)
      } finally {
        reserved?.release()
        usage.inFlight -= 1
      }
    },
  }
  return { sql, lane, usage }
}

export function openServerDatabase(options: ServerDatabaseOptions): Database {
  const scanPoolSize = options.scanPoolSize ?? 2
  const main = openPool(options, options.poolSize, 'moodlog')
  const scans = openPool(options, scanPoolSize, 'moodlog-scans')

  return {
    kind: 'server',
    ...main.lane,
    scans: scans.lane,
    async ping() {
      await main.lane.query('select 1')
    },
    usage: () => [
      { pool: 'main', size: options.poolSize, inFlight: main.usage.inFlight },
      { pool: 'scans', size: scanPoolSize, inFlight: scans.usage.inFlight },
    ],
    async close() {
      await Promise.all([main.sql.end({ timeout: 5 }), scans.sql.end({ timeout: 5 })])
    },
  }
}
