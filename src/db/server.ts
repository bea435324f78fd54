import postgres from 'postgres'
import type { Database, Queryable, Transaction } from './types.js'
import { DatabaseUnavailableError, isConnectionError } from './errors.js'

export interface ServerDatabaseOptions {
  url: string
  poolSize: number
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

export function openServerDatabase(options: ServerDatabaseOptions): Database {
  const sql = postgres(options.url, {
    max: options.poolSize,
    // Fail fast while Postgres is down; postgres.js reconnects lazily on the next query.
    connect_timeout: 5,
    idle_timeout: 60,
    max_lifetime: 30 * 60,
    onnotice: () => {},
    types: { int8: int8AsNumber },
    connection: {
      application_name: 'moodlog',
      statement_timeout: options.statementTimeoutMs,
    },
  })
  const usage = { inFlight: 0 }
  const root = queryable(sql, usage)

  return {
    kind: 'server',
    query: root.query,
    async transaction(fn) {
      usage.inFlight += 1
      try {
        return (await sql.begin(async (tx) => {
          const scoped: Transaction = {
            ...queryable(tx),
            async exec(script) {
              await tx.unsafe(script).simple()
            },
          }
          return fn(scoped)
        })) as Awaited<ReturnType<typeof fn>>
      } catch (error) {
        rethrow(error)
      } finally {
        usage.inFlight -= 1
      }
    },
    async ping() {
      await root.query('select 1')
    },
    usage: () => ({ size: options.poolSize, inFlight: usage.inFlight }),
    async close() {
      await sql.end({ timeout: 5 })
    },
  }
}
