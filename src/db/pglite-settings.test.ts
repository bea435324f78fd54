import assert from 'node:assert/strict'
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { DATA_DIR_TEMPLATE_ENV, preparedDataDir } from '../../test/support/data-dir.js'
import { openEmbeddedDatabase, openEmbeddedMemoryDatabase } from './embedded.js'
import type { Database } from './index.js'
import { dumpRelationBytes, relationBytes, SHARED_BUFFERS_MB, sharedBuffersFor } from './pglite-settings.js'

const MB = 2 ** 20

async function sharedBuffersOf(db: Database): Promise<string> {
  try {
    const [row] = await db.query<{ shared_buffers: string }>('show shared_buffers')
    return row!.shared_buffers
  } finally {
    await db.close()
  }
}

describe('embedded shared_buffers', () => {
  test('when relations are small, then they get the minimum; from about 90 MB, Postgres’s default; between, all of them and a quarter more', () => {
    assert.equal(sharedBuffersFor(0), SHARED_BUFFERS_MB.min)
    assert.equal(sharedBuffersFor(20 * MB), 32)
    assert.equal(sharedBuffersFor(40 * MB), 64, '50 MB wanted, in 16 MB steps')
    assert.equal(sharedBuffersFor(89 * MB), 112)
    assert.equal(sharedBuffersFor(90 * MB), 128)
    assert.equal(sharedBuffersFor(5000 * MB), SHARED_BUFFERS_MB.max)
  })

  test('when a data directory is opened, then its shared_buffers follow the size of its relations', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-buffers-'))
    try {
      await preparedDataDir(dir)
      const pgdata = path.join(dir, 'pgdata')
      const expected = sharedBuffersFor(relationBytes(pgdata))
      assert.ok(expected < SHARED_BUFFERS_MB.max, 'a new journal is far below the most')
      assert.equal(await sharedBuffersOf(await openEmbeddedDatabase(dir)), `${expected}MB`)

      // A large relation (a sparse file: its size is what counts) gives the most.
      const database = (await readdir(path.join(pgdata, 'base'))).sort((a, b) => Number(b) - Number(a))[0]!
      const big = await open(path.join(pgdata, 'base', database, '999999'), 'w')
      await big.truncate(100 * MB)
      await big.close()
      assert.equal(await sharedBuffersOf(await openEmbeddedDatabase(dir)), `${SHARED_BUFFERS_MB.max}MB`)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('when a dump is opened in memory, then only its relations count, not its write-ahead log', async () => {
    // npm test makes the migrated dump and unpacks that same dump as the migrated data directory.
    const tarball = process.env.MOODLOG_TEST_PGLITE_TEMPLATE
    const unpacked = process.env[DATA_DIR_TEMPLATE_ENV.migrated]
    assert.ok(tarball && unpacked, 'run through npm test, which prepares both')
    const dump = new Uint8Array(await readFile(tarball))
    const relations = dumpRelationBytes(dump)
    assert.equal(relations, relationBytes(path.join(unpacked, 'pgdata')))
    assert.ok(dump.byteLength - relations > 16 * MB, 'the dump holds a 16 MB write-ahead log segment besides')
    assert.equal(await sharedBuffersOf(await openEmbeddedMemoryDatabase(dump)), `${sharedBuffersFor(relations)}MB`)
    assert.equal(dumpRelationBytes(new Uint8Array([0x1f, 0x8b, 8, 0])), Infinity, 'a compressed dump counts as large')
  })
})
