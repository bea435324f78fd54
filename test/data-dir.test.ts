import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { secureDataDir } from '../src/db/data-dir.js'
import { openEmbeddedDatabase } from '../src/db/embedded.js'
import { preparedDataDir } from './support/data-dir.js'

/** Every path under `root` whose permission bits let anyone but the owner in. */
async function openToOthers(root: string): Promise<string[]> {
  const loose: string[] = []
  const visit = async (target: string) => {
    const info = await stat(target)
    if ((info.mode & 0o077) !== 0) loose.push(`${path.relative(root, target) || '.'} ${(info.mode & 0o777).toString(8)}`)
    if (info.isDirectory()) for (const name of await readdir(target)) await visit(path.join(target, name))
  }
  await visit(root)
  return loose
}

describe('embedded data directory at rest', () => {
  const savedUmask = process.umask()
  const scratch: string[] = []
  after(async () => {
    process.umask(savedUmask)
    for (const dir of scratch) await rm(dir, { recursive: true, force: true })
  })

  test('when the umask is 000, then a new DATA_DIR is private at once and every file PGlite wrote in it is private once closed', async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'moodlog-datadir-'))
    scratch.push(parent)
    const dataDir = path.join(parent, 'data')
    process.umask(0o000)
    const db = await openEmbeddedDatabase(dataDir)
    // Other accounts cannot even enter the directory while it is open.
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700)
    try {
      // Written after the open: tables and WAL that PGlite creates later must be private too.
      await db.query('create table diary (id serial primary key, text text not null)')
      await db.query("insert into diary (text) select 'line ' || g from generate_series(1, 2000) g")
      await db.query('checkpoint')
    } finally {
      await db.close()
    }
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700)
    assert.ok((await readdir(path.join(dataDir, 'pgdata'))).length > 5, 'PGlite wrote its files')
    assert.deepEqual(await openToOthers(dataDir), [])
  })

  test('when an existing DATA_DIR is world-readable and writable, then start tightens it and says so once', async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'moodlog-datadir-'))
    scratch.push(parent)
    const dataDir = path.join(parent, 'data')
    process.umask(0o022)
    await preparedDataDir(dataDir)
    // As an older moodlog (or a careless copy) left it.
    await chmod(dataDir, 0o777)
    await mkdir(path.join(dataDir, 'backup'), { mode: 0o777 })
    await writeFile(path.join(dataDir, 'backup', 'notes.txt'), 'private', { mode: 0o666 })
    await chmod(path.join(dataDir, 'backup', 'notes.txt'), 0o666)
    await chmod(path.join(dataDir, 'pgdata'), 0o755)
    assert.ok((await openToOthers(dataDir)).length >= 3)

    const warnings: Array<{ message: string; paths: number }> = []
    const log = { warn: (object: object, message: string) => warnings.push({ message, paths: (object as { paths: number }).paths }) }
    await (await openEmbeddedDatabase(dataDir, log)).close()
    assert.deepEqual(await openToOthers(dataDir), [])
    assert.equal(warnings.length, 1)
    assert.match(warnings[0]!.message, /made it private/)
    assert.ok(warnings[0]!.paths >= 3)

    // Already private: nothing to say the next time.
    await (await openEmbeddedDatabase(dataDir, log)).close()
    assert.equal(warnings.length, 1)
  })

  test('when DATA_DIR is a symbolic link to a directory open to others, then what it names is tightened', async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'moodlog-datadir-'))
    scratch.push(parent)
    const volume = path.join(parent, 'volume')
    await mkdir(volume)
    await writeFile(path.join(volume, 'journal'), 'private')
    await chmod(volume, 0o777)
    await chmod(path.join(volume, 'journal'), 0o666)
    const dataDir = path.join(parent, 'data')
    await symlink(volume, dataDir)
    await secureDataDir(dataDir)
    assert.deepEqual(await openToOthers(volume), [])
  })
})
