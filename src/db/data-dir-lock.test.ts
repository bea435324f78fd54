import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test, type TestContext } from 'node:test'
import { preparedDataDir } from '../../test/support/data-dir.js'
import { startServerProcess } from '../../test/support/process.js'
import { DataDirLockedError, DataDirLockLostError, lockDataDir } from './data-dir-lock.js'
import { openEmbeddedDatabase } from './embedded.js'

const root = path.resolve(import.meta.dirname, '../..')
const children: ChildProcess[] = []
const dirs: string[] = []
after(async () => {
  for (const child of children) child.kill('SIGKILL')
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-lock-'))
  dirs.push(dir)
  return dir
}

/** A process that tries to take the lock; resolves with its first answer, "locked" or "refused …". */
function holder(dir: string): Promise<{ child: ChildProcess; answer: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/fixtures/hold-lock.ts'), dir], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk
      if (output.includes('\n')) resolve({ child, answer: output.trim() })
    })
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before answering: ${output}`)))
  })
}

/** Removes the lock directory by hand, as an operator might; the holder notices at its next refresh (≤ 5 s). */
const removeLock = (dir: string) => rm(path.join(dir, 'moodlog.lock'), { recursive: true, force: true })

/**
 * A callback and the promise of the error it is first called with. The lock's refresh timer is
 * unref'd: an interval keeps the event loop (and so the test) alive until then.
 */
function lostSignal(t: TestContext): { onLost: (error: Error) => void; lost: Promise<Error> } {
  const alive = setInterval(() => {}, 1000)
  t.after(() => clearInterval(alive))
  let onLost!: (error: Error) => void
  const lost = new Promise<Error>((resolve) => (onLost = resolve))
  return { onLost, lost }
}

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })

describe('the data directory lock', () => {
  test('when another live process holds it, then it is refused', async () => {
    const dir = await dataDir()
    const { child, answer } = await holder(dir)
    assert.equal(answer, 'locked')
    await assert.rejects(
      lockDataDir(dir, () => {}),
      (error) => error instanceof DataDirLockedError,
    )
    await killed(child)
  })

  test('when its holder was killed with SIGKILL, then the lock is taken over once it misses its refreshes, not after it goes stale', async () => {
    const dir = await dataDir()
    const { child, answer } = await holder(dir)
    assert.equal(answer, 'locked')
    await killed(child)
    // The dead holder's lock is seconds from stale (15 s); without a takeover this is ELOCKED. The
    // takeover waits until nobody has refreshed it for UNREFRESHED_MS (10 s), and then succeeds.
    const release = await lockDataDir(dir, () => {})
    await assert.rejects(
      lockDataDir(dir, () => {}),
      (error) => error instanceof DataDirLockedError,
      'this process holding it does not count as a previous life of itself',
    )
    await release()
  })

  test('when the owner file names a pid that is gone but the lock is still refreshed, then it is refused, not taken over', async () => {
    const dir = await dataDir()
    const { child, answer } = await holder(dir)
    assert.equal(answer, 'locked')
    // A pid reused, or a holder on another host of the same name (a shared volume): the owner file
    // names a pid that is gone here, while the real holder goes on refreshing the lock.
    const gone = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => gone.once('exit', resolve))
    await writeFile(path.join(dir, 'moodlog.lock.owner'), JSON.stringify({ pid: gone.pid, host: os.hostname() }))
    await assert.rejects(
      lockDataDir(dir, () => {}),
      (error) => error instanceof DataDirLockedError,
    )
    await killed(child)
  })

  test('when two processes start together after a crash, then exactly one takes the lock over', async () => {
    const dir = await dataDir()
    const first = await holder(dir)
    assert.equal(first.answer, 'locked')
    await killed(first.child)
    const answers = (await Promise.all([holder(dir), holder(dir)])).map((h) => h.answer).sort()
    assert.deepEqual(answers, ['locked', 'refused DataDirLockedError'])
  })

  // The holder notices at its next refresh (5 s); a loss that goes unnoticed fails by these timeouts.
  test(
    "when the lock is removed from under its holder, then the holder is told and releasing leaves the next holder's lock alone",
    { timeout: 60_000 },
    async (t) => {
      const dir = await dataDir()
      const { onLost, lost } = lostSignal(t)
      const release = await lockDataDir(dir, onLost)
      await removeLock(dir)
      assert.ok((await lost) instanceof DataDirLockLostError)

      const next = await holder(dir)
      assert.equal(next.answer, 'locked', 'the directory is free for another process')
      await release()
      const owner = JSON.parse(await readFile(path.join(dir, 'moodlog.lock.owner'), 'utf8'))
      assert.equal(owner.pid, next.child.pid, "the next holder's owner file is still there")
      await assert.rejects(
        lockDataDir(dir, () => {}),
        (error) => error instanceof DataDirLockedError,
      )
      await killed(next.child)
    },
  )

  test('when the embedded database loses its lock, then it refuses every statement', { timeout: 60_000 }, async (t) => {
    // Initialised already: what is under test is the lock, not a first start.
    const dir = await preparedDataDir(await dataDir())
    const { onLost, lost } = lostSignal(t)
    const db = await openEmbeddedDatabase(dir, undefined, { onLockLost: onLost })
    try {
      await db.query('select 1')
      await removeLock(dir)
      assert.ok((await lost) instanceof DataDirLockLostError)
      await assert.rejects(db.query('select 1'), DataDirLockLostError)
      await assert.rejects(
        db.transaction(async (tx) => tx.query('select 1')),
        DataDirLockLostError,
      )
      await assert.rejects(db.ping(), DataDirLockLostError)
    } finally {
      await db.close()
    }
  })

  // Startup alone may take minutes on a loaded machine (startServerProcess waits up to 180 s).
  test('when a running server loses its data directory lock, then it shuts down as on a fatal error', { timeout: 240_000 }, async () => {
    const dir = await preparedDataDir(await dataDir())
    const server = await startServerProcess({ DATA_DIR: dir, MIGRATE_ON_START: 'true' })
    children.push(server.child)
    await removeLock(dir)
    // Ignoring the loss would leave the server running: this await would then end in the test's timeout.
    assert.equal(await server.exited, 1)
    assert.match(server.output(), /DataDirLockLostError/)
    assert.match(server.output(), /fatal error, shutting down/)
  })
})
