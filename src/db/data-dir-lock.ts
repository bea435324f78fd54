/**
 * One moodlog process per embedded data directory (PGlite corrupts a directory opened twice).
 *
 * The lock is proper-lockfile's: a `moodlog.lock` directory whose mtime its holder refreshes
 * every 5 s, abandoned once 15 s old. Beside it, `moodlog.lock.owner` names the holder (pid and
 * host), so a lock whose holder is gone (kill -9, a crash, a container restart) is taken over
 * sooner: once its pid is gone and its mtime does not move for 10 s (two refreshes missed). A pid
 * alone is not enough: it may be reused, or the holder may be another host of the same name on a
 * shared volume, alive and refreshing. Taking a lock and writing its owner, and checking an owner and
 * taking its lock over, both happen under a short second lock (`moodlog.lock.takeover`): two
 * processes starting together after a crash cannot both take the lock over, and nobody reads an
 * owner that is not yet written.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import lockfile from 'proper-lockfile'

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
  constructor(dataDir: string) {
    super(
      `DATA_DIR ${dataDir} is in use by another moodlog process (embedded mode allows one process per data directory; ` +
        'stop the other one, or set DATABASE_URL to share a Postgres server)',
    )
  }
}

/** The lock was taken from under its holder: another process may be writing the directory now. */
export class DataDirLockLostError extends Error {
  override name = 'DataDirLockLostError'
  constructor(dataDir: string, cause: Error) {
    super(`the lock on DATA_DIR ${dataDir} was lost (${cause.message}); stopping so that two processes never write it`, { cause })
  }
}

interface Owner {
  pid: number
  host: string
}

/** Locks this process holds now: its own pid in an owner file is then no previous life. */
const held = new Set<string>()

const isLocked = (error: unknown) => (error as { code?: string }).code === 'ELOCKED'

/** proper-lockfile's ELOCKED becomes the error people read; anything else passes through. */
const lockedAs = (dataDir: string) => (error: unknown) => {
  throw isLocked(error) ? new DataDirLockedError(dataDir) : error
}

async function readOwner(file: string): Promise<Owner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, 'utf8')) as Partial<Owner>
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? { pid: owner.pid, host: owner.host } : undefined
  } catch {
    return undefined
  }
}

/**
 * Is the owner certainly gone? Only on this host (a pid means nothing on another one). Our own
 * pid is a previous life of this process's slot (containers restart as the same pid); a pid
 * that exists may be someone else's by now, so then the lock is left to go stale by itself.
 */
function ownerIsGone(owner: Owner, lockPath: string): boolean {
  if (owner.host !== os.hostname()) return false
  if (owner.pid === process.pid) return !held.has(lockPath)
  try {
    process.kill(owner.pid, 0)
    return false
  } catch (error) {
    return (error as { code?: string }).code === 'ESRCH'
  }
}

/** proper-lockfile's refresh interval for the lock's mtime. */
const REFRESH_MS = 5_000
/** A lock not refreshed for this long has missed two refreshes: with its pid gone, its holder is gone. */
export const UNREFRESHED_MS = 2 * REFRESH_MS

const mtimeOf = (file: string) =>
  stat(file).then(
    (stats) => stats.mtimeMs,
    () => undefined,
  )

/**
 * Has nobody refreshed the lock for `UNREFRESHED_MS`? Its mtime is read twice, that long apart on
 * this process's own clock: if it moved meanwhile, a holder is alive. The mtime is never compared
 * with this process's wall clock, since it is the holder's (on a shared volume, another host's,
 * maybe minutes off). A lock removed meanwhile is free. (proper-lockfile's own 15 s stale check
 * does compare the two clocks; the owner check above it is what keeps a live holder's lock.)
 */
async function unrefreshed(lockPath: string): Promise<boolean> {
  const seen = await mtimeOf(lockPath)
  if (seen === undefined) return true
  await sleep(UNREFRESHED_MS)
  const now = await mtimeOf(lockPath)
  return now === undefined || now === seen
}

/**
 * Takes the data directory's lock, or throws DataDirLockedError while a live process holds it.
 * `onLost` is called if the lock is taken from under us (its directory removed by hand); the lock
 * and its owner file are then no longer ours, and releasing leaves them alone.
 * Resolves to the release function.
 */
export async function lockDataDir(dataDir: string, onLost: (error: DataDirLockLostError) => void): Promise<() => Promise<void>> {
  const lockPath = path.join(dataDir, 'moodlog.lock')
  const ownerPath = `${lockPath}.owner`
  // proper-lockfile keeps its own locks by the first argument: the two locks need different ones.
  const releaseTakeover = await lockfile
    .lock(`${lockPath}.takeover`, {
      lockfilePath: `${lockPath}.takeover`,
      realpath: false,
      stale: 10_000,
      // Held for milliseconds; wait for another starter rather than fail.
      retries: { retries: 40, minTimeout: 50, maxTimeout: 500 },
    })
    .catch(lockedAs(dataDir))
  let lost = false
  const compromised = (error: Error) => {
    lost = true
    held.delete(lockPath)
    onLost(new DataDirLockLostError(dataDir, error))
  }
  try {
    const take = () =>
      lockfile.lock(dataDir, {
        lockfilePath: lockPath,
        realpath: false,
        stale: 15_000,
        update: REFRESH_MS,
        retries: 0,
        onCompromised: compromised,
      })
    let release: () => Promise<void>
    try {
      release = await take()
    } catch (error) {
      if (!isLocked(error)) throw error
      const owner = await readOwner(ownerPath)
      if (!owner || !ownerIsGone(owner, lockPath) || !(await unrefreshed(lockPath))) throw new DataDirLockedError(dataDir)
      await rm(lockPath, { recursive: true, force: true })
      release = await take().catch(lockedAs(dataDir))
    }
    await writeFile(ownerPath, JSON.stringify({ pid: process.pid, host: os.hostname() } satisfies Owner), { mode: 0o600 })
    held.add(lockPath)
    return async () => {
      if (lost) return
      held.delete(lockPath)
      await rm(ownerPath, { force: true })
      await release()
    }
  } finally {
    await releaseTakeover()
  }
}
