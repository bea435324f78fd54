import { readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { lockDataDir, type DataDirLockLostError } from './data-dir-lock.js'
import { privateFileCreation, secureDataDir } from './data-dir.js'
import { currentDeadline } from './deadline.js'
import { applyTransactionOptions } from './transaction-options.js'
import type { Database, Lane, Queryable } from './types.js'

export { DataDirLockedError, DataDirLockLostError } from './data-dir-lock.js'

export interface DataDirLog {
  warn(object: object, message: string): void
}

export interface EmbeddedOptions {
  /**
   * Called once if the data directory's lock is taken from under this process. By then the
   * database refuses every statement; the caller must stop. The default throws the error, so that
   * it reaches the process's fatal-error handling (server.ts's close-with-grace shuts down on it).
   */
  onLockLost?: (error: DataDirLockLostError) => void
}

const raise = (error: Error) => {
  throw error
}

/**
 * `counted`: statements outside a transaction count towards `usage().inFlight`. `autocommit`: each
 * statement commits by itself, so for a request's deadline it counts as a commit (PGlite cannot
 * cancel a statement; one under way is waited for).
 */
function queryable(pg: Pick<PGlite, 'query'>, counted?: { inFlight: number }, autocommit = false): Queryable {
  return {
    async query(text, params = []) {
      if (counted) counted.inFlight += 1
      try {
        const run = () => pg.query(text, params as unknown[])
        const deadline = currentDeadline()
        const result = await (deadline ? deadline.track(run, { commits: autocommit }) : run())
        return result.rows as never
      } finally {
        if (counted) counted.inFlight -= 1
      }
    },
  }
}

/**
 * Wraps an open PGlite; `onClose` releases whatever the caller holds (the directory lock).
 * `lost()` returns an error while the directory is no longer ours: statements are then refused
 * and close writes nothing (no CHECKPOINT, no shutdown): the instance is left as it is, and its
 * Postgres timers keep the event loop alive, so a process that lost its lock must exit (the
 * server does, as on a fatal error; the CLI's default is to throw).
 */
export function wrapPglite(
  pg: PGlite,
  onClose: () => Promise<void> = async () => {},
  lost: () => Error | undefined = () => undefined,
): Database {
  const usage = { inFlight: 0 }
  const statements = queryable(pg, usage, true)
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
      // PGlite commits once the callback resolves; from the last check on, that commit is the request's.
      let commitSettled: ((committed: boolean) => void) | undefined
      try {
        const result = await pg.transaction(async (tx) => {
          const transaction = {
            ...queryable(tx),
            async exec(script: string) {
              await tx.exec(script)
            },
          }
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
      if (pg.closed) throw new Error('the embedded database is closed')
      // PGlite runs on this thread: while it holds a statement or transaction it is working, and a
      // probe would only queue behind it (long enough, during an import, to fail a health check).
      if (usage.inFlight > 0) return
      await pg.query('select 1')
    },
    usage: () => [{ pool: 'main', size: 1, inFlight: usage.inFlight }],
    async close() {
      try {
        if (!pg.closed && !lost()) {
          // PGlite does not fsync as it goes; a checkpoint leaves the directory consistent.
          await pg.exec('CHECKPOINT')
          await pg.close()
        }
      } finally {
        await onClose()
      }
    },
  }
}

async function exists(target: string): Promise<boolean> {
  return stat(target).then(
    () => true,
    () => false,
  )
}

/**
 * Opens (creating on first use) the PGlite database in `dataDir/pgdata`, holding a lock on
 * `dataDir` until `close()`. A first initialisation is done in a temporary directory and
 * renamed into place, so an interrupted one never leaves a directory that cannot open.
 */
export async function openEmbeddedDatabase(dataDir: string, log?: DataDirLog, options: EmbeddedOptions = {}): Promise<Database> {
  privateFileCreation()
  const tightened = await secureDataDir(dataDir)
  if (tightened.length > 0) {
    log?.warn(
      { dataDir, paths: tightened.length },
      'DATA_DIR was readable by other local accounts; made it private (0700 directories, 0600 files)',
    )
  }
  let lockLost: DataDirLockLostError | undefined
  const release = await lockDataDir(dataDir, (error) => {
    // Someone removed our lock: continuing would risk two writers on one directory.
    lockLost = error
    ;(options.onLockLost ?? raise)(error)
  })

  try {
    const pgdata = path.join(dataDir, 'pgdata')
    for (const name of await readdir(dataDir)) {
      if (name.startsWith('pgdata.init-')) await rm(path.join(dataDir, name), { recursive: true, force: true })
    }
    if (!(await exists(pgdata))) {
      const staging = path.join(dataDir, `pgdata.init-${process.pid}`)
      const fresh = new PGlite(staging)
      await fresh.waitReady
      await fresh.close()
      await rename(staging, pgdata)
    }
    const pg = new PGlite(pgdata)
    await pg.waitReady
    // PGlite writes its files 0666 whatever the umask: the 0700 directory is what keeps other
    // accounts out; the files themselves are tightened again once open and once closed.
    await secureDataDir(dataDir)
    return wrapPglite(
      pg,
      async () => {
        await secureDataDir(dataDir).catch(() => [])
        await release()
      },
      () => lockLost,
    )
  } catch (error) {
    await release()
    throw error
  }
}
