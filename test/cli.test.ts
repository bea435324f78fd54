import assert from 'node:assert/strict'
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { run } from '../src/cli.js'
import { migrate, migrationStatus, type Database, type Queryable } from '../src/db/index.js'
import { openEmbeddedDatabase } from '../src/db/embedded.js'
import { borrowed, cli, NOWHERE } from './support/cli.js'
import { preparedDataDir } from './support/data-dir.js'
import { backendNames, createTestDatabase } from './support/harness.js'
import { runProcess } from './support/process.js'

// A connection can take longer than the 2 s default to open while other test files share the cores.
const SERVER_ENV = { JWT_SECRET: 'x'.repeat(40), DB_CONNECT_TIMEOUT_SECONDS: '10' }

const tempDirs: string[] = []
after(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true })
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-cli-'))
  tempDirs.push(dir)
  return dir
}

/** Opens the embedded database in `dataDir` (holding its lock) for the length of `fn`. */
async function withEmbedded<T>(dataDir: string, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openEmbeddedDatabase(dataDir)
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

/** The real entry point in a child process, for what only another process can show (the data-dir lock). */
const cliProcess = (args: string[], env: Record<string, string | undefined>) => runProcess('src/cli.ts', args, env, 120_000)

/** Migration versions present, ascending: numbers are reserved per workstream, so there may be gaps. */
const MIGRATION_VERSIONS = (await readdir(new URL('../migrations', import.meta.url)))
  .filter((f) => f.endsWith('.do.sql'))
  .map((f) => Number(f.split('.')[0]))
  .sort((a, b) => a - b)
const LATEST = MIGRATION_VERSIONS.at(-1)!
const PREVIOUS = MIGRATION_VERSIONS.at(-2) ?? 0

const EMAIL = 'Ada.Lovelace@example.com'
const OTHER = 'grace@example.com'

/** Every entry of the user as comparable text: content and timestamps to the microsecond, in id order. */
async function entriesOf(db: Queryable, email: string): Promise<string[]> {
  const rows = await db.query<{ line: string }>(
    `select json_build_array(e.text, e.mood, e.category,
              to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
              to_char(e.created_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
              to_char(e.updated_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'))::text as line
       from entries e join users u on u.id = e.user_id
      where lower(u.email) = lower($1)
      order by e.id`,
    [email],
  )
  return rows.map((r) => r.line)
}

async function insertUser(db: Queryable, email: string): Promise<number> {
  const rows = await db.query<{ id: number }>(`insert into users (email, password_hash) values ($1, 'not-a-real-hash') returning id`, [
    email,
  ])
  return rows[0]!.id
}

/**
 * 2,500 entries (more than two export pages and import batches) with what tends to break a format:
 * quotes, backslashes, newlines, emoji and other scripts, 10,000-character texts, microsecond
 * timestamps written in various offsets, updated later than created.
 */
async function seedJournal(db: Queryable, userId: number): Promise<void> {
  await db.query(
    `insert into entries (user_id, text, mood, category, occurred_at, created_at, updated_at)
     select $1,
            case i % 5
              when 0 then format('Day %s: "quoted", back\\slash, tab	and
newline', i)
              when 1 then 'Grüße, 今日は良い日 🎉 #' || i
              when 2 then repeat('x', 10000)
              when 3 then ' leading and trailing spaces kept '
              else 'entry ' || i
            end,
            1 + i % 10,
            (array['work', 'Family time', 'Sport', 'ünïcödé', 'a-category-of-exactly-fifty-characters-long-abcdef'])[1 + i % 5],
            timestamptz '2023-01-01 00:00:00.123456+05:30' + i * interval '7 hours 13 minutes 0.000789 seconds',
            timestamptz '2023-06-01 12:00:00.000001Z' + i * interval '1 second 0.5 ms',
            timestamptz '2023-06-01 12:00:00.000001Z' + i * interval '1 second 0.5 ms' + (i % 3) * interval '1 day 0.000007 seconds'
       from generate_series(1, 2500) as i`,
    [userId],
  )
}

// One after the other: the commands run on this process's event loop, where an embedded database
// starting up for seconds would hold back a server group's connection timers and time them out.
describe('moodlog CLI', () => {
  describe('CLI migrate, status and check [pglite]', () => {
    test('when a fresh data directory is migrated up and down, then status and check follow; a held directory is refused', async () => {
      // Initialised, never migrated (the first initialisation itself is test/database.test.ts's).
      const env = { DATA_DIR: await preparedDataDir(path.join(await tempDir(), 'data'), { migrated: false }) }
      const latest = LATEST

      const fresh = await cli(['migrate', 'status'], env)
      assert.equal(fresh.code, 0, fresh.output)
      assert.match(fresh.output, new RegExp(`current version 0, latest ${latest}`))
      assert.match(fresh.output, /pending: 001\.do\.sql/)

      const pending = await cli(['check'], env)
      assert.equal(pending.code, 2, pending.output)
      assert.match(pending.output, /configuration ok; embedded database/)
      assert.match(pending.output, /run `moodlog migrate up`/)

      const up = await cli(['migrate', 'up'], env)
      assert.equal(up.code, 0, up.output)
      assert.match(up.output, new RegExp(`migrated 0 → ${latest}`))

      const down = await cli(['migrate', 'down'], env)
      assert.equal(down.code, 0, down.output)
      assert.match(down.output, new RegExp(`rolled back ${latest} → ${PREVIOUS}`))
      assert.deepEqual(await withEmbedded(env.DATA_DIR, (db) => migrationStatus(db)), {
        current: PREVIOUS,
        latest,
        pending: [`${String(latest).padStart(3, '0')}.do.sql`],
      })

      await withEmbedded(env.DATA_DIR, async (db) => {
        await migrate(db)
        // While this process holds the directory, the CLI must not open it too.
        const held = await cliProcess(['check'], env)
        assert.equal(held.code, 1, held.output)
        assert.match(held.output, /is in use by another moodlog process/)
      })
      const ready = await cli(['check'], env)
      assert.equal(ready.code, 0, ready.output)
      assert.match(ready.output, new RegExp(`schema version ${latest} of ${latest}`))
    })
  })

  if (backendNames().includes('postgres')) {
    describe('CLI migrate, status and check [postgres]', () => {
      test('when a server database is rolled back and migrated again, then status and check follow', async () => {
        const testDb = await createTestDatabase('postgres')
        try {
          const env = { ...SERVER_ENV, DATABASE_URL: testDb.url }
          const { latest } = await migrationStatus(testDb.db)
          const ready = await cli(['check'], env)
          assert.equal(ready.code, 0, ready.output)
          assert.match(ready.output, /configuration ok; postgres server 127\.0\.0\.1:\d+\/moodlog_test_/)
          assert.match(ready.output, new RegExp(`schema version ${latest} of ${latest}`))

          const down = await cli(['migrate', 'down'], env)
          assert.equal(down.code, 0, down.output)
          const pending = await cli(['check'], env)
          assert.equal(pending.code, 2, pending.output)
          assert.match(pending.output, new RegExp(`schema version ${PREVIOUS} of ${latest}`))
          assert.match((await cli(['migrate', 'status'], env)).output, new RegExp(`pending: ${String(latest).padStart(3, '0')}\\.do\\.sql`))

          const up = await cli(['migrate', 'up'], env)
          assert.equal(up.code, 0, up.output)
          assert.match((await cli(['migrate', 'status'], env)).output, /up to date/)
        } finally {
          await testDb.drop()
        }
      })

      test('when the server cannot be reached, then check fails with a clear message', async () => {
        const result = await cli(['check'], { ...SERVER_ENV, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })
        assert.equal(result.code, 1, result.output)
        assert.match(result.output, /cannot reach the database/)
      })
    })
  }

  // Its tests take turns on one data directory.
  describe('CLI export and import', { concurrency: false }, () => {
    let sourceDir: string
    let source: string[]
    /** Migrated, without users: import targets start as copies of it (a first initialisation costs seconds). */
    let emptyDir: string
    const copyDataDir = async (from: string, to: string) =>
      cp(from, to, { recursive: true, filter: (file) => !path.basename(file).startsWith('moodlog.lock') })
    before(async () => {
      sourceDir = await preparedDataDir(path.join(await tempDir(), 'data'))
      emptyDir = path.join(await tempDir(), 'data')
      await copyDataDir(sourceDir, emptyDir)
      source = await withEmbedded(sourceDir, async (db) => {
        await seedJournal(db, await insertUser(db, EMAIL))
        // Someone else's entries must not travel.
        await db.query(`insert into entries (user_id, text, mood, category) values ($1, 'not mine', 5, 'other')`, [
          await insertUser(db, OTHER),
        ])
        return entriesOf(db, EMAIL)
      })
      assert.equal(source.length, 2500)
    })

    test(`when a journal is exported from an embedded database and imported into ${backendNames().join(' and ')}, then every entry is identical`, async () => {
      const file = path.join(await tempDir(), 'journal.ndjson')
      const exported = await cli(['export', '--user', EMAIL.toUpperCase(), '--out', file], { DATA_DIR: sourceDir })
      assert.equal(exported.code, 0, exported.output)
      assert.match(exported.output, /exported 2500 entries/)
      assert.equal((await stat(file)).mode & 0o777, 0o600, 'the export is readable by its owner only')
      const lines = (await readFile(file, 'utf8')).trimEnd().split('\n')
      assert.equal(lines.length, 2501)
      assert.equal(JSON.parse(lines[0]!).format, 'moodlog', 'a header line first')
      const first = JSON.parse(lines[1]!)
      assert.deepEqual(Object.keys(first), ['id', 'text', 'mood', 'category', 'occurredAt', 'createdAt', 'updatedAt', 'version'])
      assert.match(first.occurredAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)

      for (const target of backendNames()) {
        if (target === 'pglite') {
          const targetDir = path.join(await tempDir(), 'data')
          await copyDataDir(emptyDir, targetDir)
          await withEmbedded(targetDir, (db) => insertUser(db, EMAIL))
          const imported = await cli(['import', '--user', EMAIL, '--in', file], { DATA_DIR: targetDir })
          assert.equal(imported.code, 0, imported.output)
          assert.match(imported.output, /imported 2500 entries/)
          assert.deepEqual(await withEmbedded(targetDir, (db) => entriesOf(db, EMAIL)), source)
        } else {
          const testDb = await createTestDatabase('postgres')
          try {
            await insertUser(testDb.db, EMAIL)
            const imported = await cli(['import', '--user', EMAIL, '--in', file], { ...SERVER_ENV, DATABASE_URL: testDb.url })
            assert.equal(imported.code, 0, imported.output)
            assert.match(imported.output, /imported 2500 entries/)
            assert.deepEqual(await entriesOf(testDb.db, EMAIL), source)
          } finally {
            await testDb.drop()
          }
        }
      }
    })

    // The commands of the next two tests work on the source held open (test/support/cli.ts): the
    // first test reached it by DATA_DIR, and opening it for each command costs a second.
    test('when export writes to stdout and import reads stdin, then the entries travel too', () =>
      withEmbedded(sourceDir, async (db) => {
        const open = async () => borrowed(db)
        const notes: string[] = []
        const io = (stdin: Readable, stdout = new PassThrough()) => ({ stdin, stdout, note: (line: string) => notes.push(line) })
        const stdout = new PassThrough()
        const chunks: Buffer[] = []
        stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
        assert.equal(await run(['export', '--user', EMAIL], NOWHERE, () => {}, io(Readable.from([]), stdout), open), 0)
        const ndjson = Buffer.concat(chunks).toString('utf8')
        assert.equal(ndjson.trimEnd().split('\n').length, 2501)

        // Into the other user of the same journal; blank lines and a byte-order mark (some editors write one) are tolerated.
        const input = Readable.from([`\uFEFF${ndjson.replace('\n', '\n\n  \n')}`])
        assert.equal(await run(['import', '--user', OTHER], NOWHERE, () => {}, io(input), open), 0)
        assert.ok(notes.includes(`imported 2500 entries for ${OTHER} (0 already there)`), notes.join('\n'))
        const [mine, theirs] = [await entriesOf(db, EMAIL), await entriesOf(db, OTHER)]
        assert.deepEqual(mine, source)
        assert.deepEqual(theirs!.slice(1), source)

        await assert.rejects(
          run(['export', '--user', 'nobody@example.com'], NOWHERE, () => {}, io(Readable.from([])), open),
          /no user with email nobody@example.com/,
        )
        assert.equal(await run(['import', '--in', 'x'], NOWHERE, () => {}, io(Readable.from([])), open), 64, 'usage error without --user')
      }))

    test('when a line breaks the entry rules, then its number is reported and nothing is imported', () =>
      withEmbedded(sourceDir, async (db) => {
        const held = { database: db }
        // The bad line comes after a first full batch: nothing of the file is kept, not even the good lines before it.
        const good = (i: number) =>
          JSON.stringify({ text: `fine ${i}`, mood: 5, category: 'work', occurredAt: '2024-05-01T18:30:00+02:00' })
        const lines = Array.from({ length: 1002 }, (_, i) => good(i + 1))
        lines.push(JSON.stringify({ text: 'too happy', mood: 11, category: 'work' }), '{"text": "cut off', good(1005))
        const file = path.join(await tempDir(), 'bad.ndjson')
        await writeFile(file, lines.join('\n') + '\n')
        const result = await cli(['import', '--user', EMAIL, '--in', file], NOWHERE, held)
        assert.equal(result.code, 65, result.output)
        assert.match(result.output, /line 1003: mood must be an integer from 1 to 10/)
        assert.match(result.output, /line 1004: \(line\) is not valid JSON/)
        assert.match(result.output, /nothing imported: 2 invalid rows/)
        assert.deepEqual(await entriesOf(db, EMAIL), source)

        // With --skip-invalid the others go in; run again, they are all already there.
        const skipping = await cli(['import', '--user', EMAIL, '--in', file, '--skip-invalid'], NOWHERE, held)
        assert.equal(skipping.code, 0, skipping.output)
        assert.match(skipping.output, /imported 1003 entries for .* \(0 already there, 2 invalid skipped\)/)
        const again = await cli(['import', '--user', EMAIL, '--in', file, '--skip-invalid'], NOWHERE, held)
        assert.match(again.output, /imported 0 entries for .* \(1003 already there, 2 invalid skipped\)/)
        assert.equal((await entriesOf(db, EMAIL)).length, source.length + 1003)

        // A usage error found once the database is open ends as one too (64), with its message.
        const zone = await cli(['import', '--user', EMAIL, '--in', file, '--tz', 'Mars/Olympus_Mons'], NOWHERE, held)
        assert.equal(zone.code, 64, zone.output)
        assert.match(zone.output, /^moodlog: unknown time zone Mars\/Olympus_Mons/m)
      }))
  })
})
