import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import lockfile from 'proper-lockfile'
import type { Database, Lane, Queryable } from './types.js'

/** Another process holds the data directory; PGlite corrupts a directory opened twice. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
  constructor(dataDir: string) {
    super(
      `DATA_DIR ${dataDir} is in use by another moodlog process (embedded mode allows one process per data directory; ` +
        'stop the other one, or set DATABASE_URL to share a Postgres server)',
    )
  }
}

/** `counted`: statements outside a transaction count towards `usage().inFlight`. */
function queryable(pg: Pick<PGlite, 'query'>, counted?: { inFlight: number }): Queryable {
  return {
    async query(text, params = []) {
      if (counted) counted.inFlight += 1
      try {
        const result = await pg.query(text, params as unknown[])
        return result.rows as never
      } finally {
        if (counted) counted.inFlight -= 1
      }
    },
  }
}

/** Wraps an open PGlite; `onClose` releases whatever the caller holds (the directory lock). */
export function wrapPglite(pg: PGlite, onClose: () => Promise<void> = async () => {}): Database {
  const usage = { inFlight: 0 }
  const lane: Lane = {
    ...queryable(pg, usage),
    async transaction(fn) {
      usage.inFlight += 1
      try {
        return await pg.transaction((tx) =>
          fn({
            ...queryable(tx),
            async exec(script) {
              await tx.exec(script)
            },
          }),
        )
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
    async ping() {
      await pg.query('select 1')
    },
    usage: () => [{ pool: 'main', size: 1, inFlight: usage.inFlight }],
    async close() {
      try {
        if (!pg.closed) {
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
export async function openEmbeddedDatabase(dataDir: string): Promise<Database> {
  await mkdir(dataDir, { recursive: true })
  let release: () => Promise<void>
  try {
    // The lock is refreshed every 5 s and considered abandoned after 15 s (a crashed process).
    release = await lockfile.lock(dataDir, {
      lockfilePath: path.join(dataDir, 'moodlog.lock'),
      stale: 15_000,
      update: 5_000,
      retries: 0,
      realpath: false,
      onCompromised: (error) => {
        // Someone removed our lock: continuing would risk two writers on one directory.
        console.error(JSON.stringify({ level: 60, msg: 'data directory lock lost, exiting', err: error.message }))
        process.exit(70)
      },
    })
  } catch (error) {
    if ((error as { code?: string }).code === 'ELOCKED') throw new DataDirLockedError(dataDir)
    throw error
  }

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
    return wrapPglite(pg, release)
  } catch (error) {
    await release()
    throw error
  }
}
