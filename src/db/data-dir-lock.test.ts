import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { DataDirLockedError, lockDataDir } from './data-dir-lock.js'

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

  test('when its holder was killed with SIGKILL, then the lock is taken over at once, not after it goes stale', async () => {
    const dir = await dataDir()
    const { child, answer } = await holder(dir)
    assert.equal(answer, 'locked')
    await killed(child)
    // The dead holder's lock is seconds from stale (15 s); without a takeover this is ELOCKED.
    const release = await lockDataDir(dir, () => {})
    await assert.rejects(
      lockDataDir(dir, () => {}),
      (error) => error instanceof DataDirLockedError,
      'this process holding it does not count as a previous life of itself',
    )
    await release()
  })

  test('when two processes start together after a crash, then exactly one takes the lock over', async () => {
    const dir = await dataDir()
    const first = await holder(dir)
    assert.equal(first.answer, 'locked')
    await killed(first.child)
    const answers = (await Promise.all([holder(dir), holder(dir)])).map((h) => h.answer).sort()
    assert.deepEqual(answers, ['locked', 'refused DataDirLockedError'])
  })
})
