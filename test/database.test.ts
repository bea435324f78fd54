import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { buildApp } from '../src/app.js'
import { migrate, migrateDown, migrationStatus, type Database } from '../src/db/index.js'
import { MIGRATIONS_DIR } from '../src/db/migrate.js'
import { openEmbeddedDatabase } from '../src/db/embedded.js'
import { openServerDatabase } from '../src/db/server.js'
import testRoutes from './fixtures/slow-routes.js'
import { backendNames, createTestDatabase, testConfig } from './support/harness.js'
import { TcpProxy } from './support/tcp-proxy.js'

/** The migration versions present, ascending (numbers are reserved per workstream, so there may be gaps). */
async function migrationVersions(): Promise<number[]> {
  const names = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.do.sql'))
  return names.map((name) => Number(name.split('.')[0])).sort((a, b) => a - b)
}

/** Tables, columns, constraints and indexes of the public schema, as comparable text. */
async function schemaOf(db: Database): Promise<string[]> {
  const columns = await db.query<{ line: string }>(`
    select format('%s.%s %s null=%s default=%s', table_name, column_name, data_type, is_nullable, column_default) as line
    from information_schema.columns where table_schema = 'public' and table_name <> 'schemaversion'`)
  const constraints = await db.query<{ line: string }>(`
    select format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) as line
    from pg_constraint where connamespace = 'public'::regnamespace and conrelid <> 'public.schemaversion'::regclass`)
  const indexes = await db.query<{ line: string }>(`
    select indexdef as line from pg_indexes where schemaname = 'public' and tablename <> 'schemaversion'`)
  return [...columns, ...constraints, ...indexes].map((r) => r.line).sort()
}

describe('embedded data directory', () => {
  test('when a first initialisation was interrupted, then the next start cleans up and opens normally', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-init-'))
    try {
      // What a crash half-way through initialisation leaves: a staging directory, never renamed.
      await mkdir(path.join(dataDir, 'pgdata.init-99999', 'base'), { recursive: true })
      await writeFile(path.join(dataDir, 'pgdata.init-99999', 'PG_VERSION'), 'half written')
      const db = await openEmbeddedDatabase(dataDir)
      await migrate(db)
      await db.query(`insert into users (email, password_hash) values ('init@example.test', 'x')`)
      await db.close()
      assert.deepEqual(
        (await readdir(dataDir)).filter((name) => name.startsWith('pgdata')),
        ['pgdata'],
      )
      const reopened = await openEmbeddedDatabase(dataDir)
      assert.equal((await reopened.query<{ n: number }>('select count(*)::int as n from users'))[0]!.n, 1)
      await reopened.close()
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

for (const backend of backendNames()) {
  describe(`migrations [${backend}]`, () => {
    test('when every migration is rolled back and applied again, then the schema is the same', async () => {
      const testDb = await createTestDatabase(backend)
      try {
        const before = await schemaOf(testDb.db)
        assert.ok(
          before.some((line) => line.startsWith('entries.mood')),
          'the migrated schema has entries',
        )
        const { latest } = await migrationStatus(testDb.db)
        const versions = await migrationVersions()
        for (let i = versions.length - 1; i >= 0; i--) {
          const down = await migrateDown(testDb.db)
          assert.equal(down.to, versions[i - 1] ?? 0)
        }
        assert.deepEqual(await schemaOf(testDb.db), [])
        const up = await migrate(testDb.db)
        assert.equal(up.to, latest)
        assert.deepEqual(await schemaOf(testDb.db), before)
      } finally {
        await testDb.drop()
      }
    })
  })
}

if (backendNames().includes('postgres')) {
  describe('server database', () => {
    test('when two instances migrate an empty database at once, then each migration is applied exactly once', async () => {
      const testDb = await createTestDatabase('postgres')
      const url = testDb.url!
      try {
        // Empty the cloned database back to nothing, then race two independent pools.
        const versions = await migrationVersions()
        for (let i = 0; i < versions.length; i++) await migrateDown(testDb.db)
        await testDb.db.query('drop table schemaversion')
        const a = openServerDatabase({ url, poolSize: 2, statementTimeoutMs: 30_000 })
        const b = openServerDatabase({ url, poolSize: 2, statementTimeoutMs: 30_000 })
        const results = await Promise.all([migrate(a), migrate(b)])
        await Promise.all([a.close(), b.close()])
        const applied = results.flatMap((r) => r.applied)
        assert.equal(applied.length, versions.length, 'every migration applied once across both instances')
        const rows = await testDb.db.query<{ version: number; n: number }>(
          'select version, count(*)::int as n from schemaversion where version > 0 group by version order by version',
        )
        assert.deepEqual(
          rows.map((r) => r.n),
          Array(versions.length).fill(1),
        )
      } finally {
        await testDb.drop()
      }
    })

    test('when the scan lane is busy with slow statements, then the main pool still answers at once', async () => {
      const testDb = await createTestDatabase('postgres')
      const db = openServerDatabase({ url: testDb.url!, poolSize: 2, scanPoolSize: 1, statementTimeoutMs: 30_000 })
      try {
        await Promise.all([db.query('select 1'), db.query('select 1')])
        // Two slow scans fill the one scan connection for three seconds.
        const slow = Promise.all([db.scans.query('select pg_sleep(1.5)'), db.scans.query('select pg_sleep(1.5)')]).then(() => 'scans')
        const short = (async () => {
          await Promise.all(Array.from({ length: 20 }, (_, n) => db.query('select $1::int as n', [n])))
          await db.transaction((tx) => tx.query('select 1'))
          return db.usage().find((u) => u.pool === 'scans')!.inFlight
        })()
        assert.equal(await Promise.race([short.then(() => 'main'), slow]), 'main', 'short statements finish first')
        assert.equal(await short, 2, 'while both scans are still running')
        await slow
      } finally {
        await db.close()
        await testDb.drop()
      }
    })

    test('when every main-pool connection is held by a transaction, then a point read still answers at once', async () => {
      const testDb = await createTestDatabase('postgres')
      const db = openServerDatabase({ url: testDb.url!, poolSize: 1, statementTimeoutMs: 30_000 })
      let release!: () => void
      const held = new Promise<void>((resolve) => (release = resolve))
      let entered!: () => void
      const inside = new Promise<void>((resolve) => (entered = resolve))
      try {
        const transaction = db.transaction(async (tx) => {
          await tx.query('select 1')
          entered()
          await held
        })
        await inside
        // The main pool's one connection stays reserved until `release`: a main-pool read would wait for it.
        const read = db.points.query<{ n: number }>('select $1::int as n', [7]).then((rows) => rows[0]!.n)
        const waiting = db.query('select 1').then(() => 'main')
        assert.equal(await Promise.race([read, waiting]), 7, 'the point read finished while the main pool was held')
        assert.equal(db.usage().find((u) => u.pool === 'main')!.inFlight, 2, 'the transaction and the queued read')
        release()
        await transaction
        assert.equal(await waiting, 'main')
        assert.deepEqual(
          db.usage().map((u) => [u.pool, u.size]),
          [
            ['main', 1],
            ['scans', 2],
            ['points', 1],
            ['exports', 1],
          ],
        )
      } finally {
        release()
        await db.close()
        await testDb.drop()
      }
    })

    describe('when Postgres becomes unreachable', () => {
      const cleanups: Array<() => Promise<unknown>> = []
      after(async () => {
        for (const cleanup of cleanups.reverse()) await cleanup()
      })

      test('then requests get 503 problem+json, the process stays up, and it recovers by itself', async () => {
        const testDb = await createTestDatabase('postgres')
        cleanups.push(() => testDb.drop())
        const target = new URL(testDb.url!)
        const proxy = new TcpProxy(target.hostname, Number(target.port || 5432))
        await proxy.start()
        cleanups.push(() => proxy.stop())
        target.hostname = '127.0.0.1'
        target.port = String(proxy.port)
        const app = await buildApp(testConfig({ DATABASE_URL: target.toString() }), { logger: false, plugins: [testRoutes] })
        cleanups.push(() => app.close())

        assert.equal((await app.inject({ url: '/test/db' })).statusCode, 200)

        await proxy.stop()
        const started = Date.now()
        const down = await app.inject({ url: '/test/db' })
        assert.equal(down.statusCode, 503)
        assert.equal(down.headers['content-type'], 'application/problem+json; charset=utf-8')
        assert.equal(down.json().type, '/problems/database-unavailable')
        assert.ok(!JSON.stringify(down.json()).includes('ECONNREFUSED'), 'no driver internals leak')
        assert.ok(Date.now() - started < 6000, 'failed fast')
        const health = await app.inject({ url: '/health' })
        assert.equal(health.statusCode, 503)
        assert.equal(health.json().database, 'down')

        await proxy.start()
        const recovered = await app.inject({ url: '/test/db' })
        assert.equal(recovered.statusCode, 200)
        assert.deepEqual(recovered.json(), { answer: 42 })
        assert.equal((await app.inject({ url: '/health' })).statusCode, 200)
      })
    })
  })
}
