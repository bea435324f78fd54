import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { preparedDataDir } from '../../test/support/data-dir.js'
import { openEmbeddedDatabase } from './embedded.js'
import { relationBytes, SHARED_BUFFERS_MB, sharedBuffersFor } from './pglite-settings.js'

const MB = 2 ** 20

describe('embedded shared_buffers', () => {
  test('when a database is small, then it gets the minimum; when large, Postgres’s default; between, all of it and a quarter more', () => {
    assert.equal(sharedBuffersFor(0), SHARED_BUFFERS_MB.min)
    assert.equal(sharedBuffersFor(20 * MB), 32)
    assert.equal(sharedBuffersFor(40 * MB), 64, '50 MB wanted, in 16 MB steps')
    assert.equal(sharedBuffersFor(90 * MB), 128)
    assert.equal(sharedBuffersFor(5000 * MB), SHARED_BUFFERS_MB.max)
  })

  test('when a data directory is opened, then its shared_buffers follow the size of its relations', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-buffers-'))
    try {
      await preparedDataDir(dir)
      const bytes = await relationBytes(path.join(dir, 'pgdata'))
      assert.ok(bytes > MB, `a migrated database holds its catalogs (${bytes} bytes)`)
      const db = await openEmbeddedDatabase(dir)
      try {
        const [row] = await db.query<{ shared_buffers: string }>('show shared_buffers')
        assert.equal(row!.shared_buffers, `${sharedBuffersFor(bytes)}MB`)
      } finally {
        await db.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
