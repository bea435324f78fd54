import { readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Worker } from 'node:worker_threads'
import { PGlite } from '@electric-sql/pglite'
import { lockDataDir, type DataDirLockLostError } from './data-dir-lock.js'
import { privateFileCreation, secureDataDir } from './data-dir.js'
import { embeddedDatabase, type EmbeddedEngine } from './embedded-database.js'
import type { WorkerSource } from './embedded-protocol.js'
import { SHARED_BUFFERS_MB, startParams } from './pglite-settings.js'
import { startWorkerEngine } from './embedded-thread.js'
import type { DatabaseUnavailableError } from './errors.js'
import type { Database } from './types.js'

export { DataDirLockedError, DataDirLockLostError } from './data-dir-lock.js'
export { wrapPglite } from './embedded-database.js'

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
  /**
   * Called once if the worker thread running PGlite ends without being closed. Every statement
   * fails with `DatabaseUnavailableError` (503) from then on; the default throws, as `onLockLost`.
   */
  onWorkerExit?: (error: DatabaseUnavailableError) => void
  /** Sees the worker thread once started: a test seam (a test terminates it to play a crash). */
  onWorkerStart?: (worker: Worker) => void
}

const raise = (error: Error) => {
  throw error
}

/** Starts the worker engine with the options' hooks; its default on a crash is to throw, like a lost lock. */
function startEngine(source: WorkerSource, options: EmbeddedOptions): Promise<EmbeddedEngine> {
  return startWorkerEngine(source, { onExit: options.onWorkerExit ?? raise, onStart: options.onWorkerStart })
}

/**
 * An embedded database in memory, from a data-dir dump (`dumpDataDir`) or empty: what tests use,
 * on the same worker engine as a data directory.
 */
export async function openEmbeddedMemoryDatabase(dump?: Blob | Uint8Array, options: EmbeddedOptions = {}): Promise<Database> {
  const bytes = dump instanceof Blob ? new Uint8Array(await dump.arrayBuffer()) : dump
  return embeddedDatabase(await startEngine({ dump: bytes }, options))
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

  let engine: EmbeddedEngine | undefined
  try {
    const pgdata = path.join(dataDir, 'pgdata')
    for (const name of await readdir(dataDir)) {
      if (name.startsWith('pgdata.init-')) await rm(path.join(dataDir, name), { recursive: true, force: true })
    }
    if (!(await exists(pgdata))) {
      const staging = path.join(dataDir, `pgdata.init-${process.pid}`)
      const fresh = new PGlite(staging, { startParams: startParams(SHARED_BUFFERS_MB.min) })
      await fresh.waitReady
      await fresh.close()
      await rename(staging, pgdata)
    }
    engine = await startEngine({ dataDir: pgdata }, options)
    // PGlite writes its files 0666 whatever the umask: the 0700 directory is what keeps other
    // accounts out; the files themselves are tightened again once open and once closed.
    await secureDataDir(dataDir)
    return embeddedDatabase(
      engine,
      async () => {
        await secureDataDir(dataDir).catch(() => [])
        await release()
      },
      () => lockLost,
    )
  } catch (error) {
    await engine?.close().catch(() => {})
    await release()
    throw error
  }
}
