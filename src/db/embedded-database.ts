import type { PGlite } from '@electric-sql/pglite'
import { currentDeadline } from './deadline.js'
import { applyTransactionOptions } from './transaction-options.js'
import type { Database, Lane, Queryable, Row, Transaction } from './types.js'

/**
 * One PGlite connection, wherever it runs: in a worker thread (embedded-thread.ts, what moodlog
 * uses) or on this thread (`pgliteEngine`, for scripts that need PGlite's own API beside it).
 */
export interface EmbeddedEngine {
  query(text: string, params: readonly unknown[]): Promise<Row[]>
  /** Committed when `fn` resolves, rolled back when it throws; other statements wait meanwhile. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>
  readonly closed: boolean
  /** CHECKPOINT, then close. */
  close(): Promise<void>
  /** Stops without writing anything more (the data directory is no longer ours). */
  abandon(): Promise<void>
}

/** PGlite on this thread. Abandoning leaves the instance as it is (its timers keep the process alive). */
export function pgliteEngine(pg: PGlite): EmbeddedEngine {
  return {
    async query(text, params) {
      return (await pg.query<Row>(text, params as unknown[])).rows
    },
    transaction(fn) {
      return pg.transaction((tx) =>
        fn({
          async query(text, params = []) {
            return (await tx.query(text, params as unknown[])).rows as never
          },
          async exec(script) {
            await tx.exec(script)
          },
        }),
      )
    },
    get closed() {
      return pg.closed
    },
    async close() {
      if (pg.closed) return
      // PGlite does not fsync as it goes; a checkpoint leaves the directory consistent.
      await pg.exec('CHECKPOINT')
      await pg.close()
    },
    async abandon() {},
  }
}

/**
 * `counted`: statements outside a transaction count towards `usage().inFlight`. `autocommit`: each
 * statement commits by itself, so for a request's deadline it counts as a commit (PGlite cannot
 * cancel a statement; one under way is waited for).
 */
function queryable(run: Queryable['query'], counted?: { inFlight: number }, autocommit = false): Queryable {
  return {
    async query(text, params = []) {
      if (counted) counted.inFlight += 1
      try {
        const deadline = currentDeadline()
        const statement = () => run(text, params)
        return (await (deadline ? deadline.track(statement, { commits: autocommit }) : statement())) as never
      } finally {
        if (counted) counted.inFlight -= 1
      }
    },
  }
}

/**
 * The `Database` over one embedded engine; `onClose` releases whatever the caller holds (the
 * directory lock). `lost()` returns an error while the directory is no longer ours: statements
 * are then refused and close writes nothing (no CHECKPOINT, no shutdown), so a process that lost
 * its lock must exit (the server does, as on a fatal error; the CLI's default is to throw).
 */
export function embeddedDatabase(
  engine: EmbeddedEngine,
  onClose: () => Promise<void> = async () => {},
  lost: () => Error | undefined = () => undefined,
): Database {
  const usage = { inFlight: 0 }
  const statements = queryable((text, params) => engine.query(text, params ?? []) as never, usage, true)
  const lane: Lane = {
    async query(text, params) {
      const error = lost()
      if (error) throw error
      return statements.query(text, params)
    },
    async transaction(fn, options) {
      const error = lost()
      if (error) throw error
      const deadline = currentDeadline()
      deadline?.check()
      usage.inFlight += 1
      // The engine commits once the callback resolves; from the last check on, that commit is the request's.
      let commitSettled: ((committed: boolean) => void) | undefined
      try {
        const result = await engine.transaction(async (tx) => {
          const transaction = { ...queryable(tx.query), exec: tx.exec }
          await applyTransactionOptions(transaction, options)
          const value = await fn(transaction)
          if (deadline) {
            deadline.check()
            const commit = new Promise<void>((resolve, reject) => {
              commitSettled = (committed) => (committed ? resolve() : reject(new Error('not committed')))
            })
            deadline.track(() => commit, { commits: true }).catch(() => {})
          }
          return value
        })
        commitSettled?.(true)
        return result
      } catch (error) {
        commitSettled?.(false)
        throw error
      } finally {
        usage.inFlight -= 1
      }
    },
  }
  return {
    kind: 'embedded',
    ...lane,
    // One connection for everything: queries queue inside PGlite.
    scans: lane,
    points: lane,
    async ping() {
      const error = lost()
      if (error) throw error
      if (engine.closed) throw new Error('the embedded database is closed')
      // While PGlite holds a statement or transaction it is working, and a probe would only queue
      // behind it (long enough, during an import, to fail a health check).
      if (usage.inFlight > 0) return
      await engine.query('select 1', [])
    },
    usage: () => [{ pool: 'main', size: 1, inFlight: usage.inFlight }],
    async close() {
      try {
        if (lost()) await engine.abandon()
        else await engine.close()
      } finally {
        await onClose()
      }
    },
  }
}

/** PGlite on this thread as a `Database` (scripts/test.ts migrates its templates so, beside `dumpDataDir`). */
export function wrapPglite(pg: PGlite): Database {
  return embeddedDatabase(pgliteEngine(pg))
}
