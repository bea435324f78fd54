/**
 * `moodlog export` and `moodlog import` with each format of the issue, on each backend: the
 * moodlog formats round-trip, Daylio and jrnl come in, what cannot be done is refused with a
 * usage error naming the choices; and `--notify` means what `notify=true` means to the API.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import type { Database, Queryable } from '../src/db/index.js'
import { cli, NOWHERE, type CliOptions } from './support/cli.js'
import { backendNames, createTestDatabase, type BackendName } from './support/harness.js'

const cleanups: Array<() => Promise<unknown>> = []
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-cli-transfer-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A migrated database the CLI works on, and a way for the test to look inside. */
interface Place {
  env: Record<string, string>
  /** How the commands reach it (test/support/cli.ts). */
  cli: CliOptions
  use<T>(fn: (db: Database) => Promise<T>): Promise<T>
}

/**
 * A database of this file's own. The server's is reached by its URL, as an operator's would be;
 * the embedded one is handed to each command open: what these tests check is what the commands do
 * with a database, and opening a data directory costs a second each time. Reaching DATA_DIR itself
 * is test/cli.test.ts's.
 */
async function place(backend: BackendName): Promise<Place> {
  const created = await createTestDatabase(backend)
  cleanups.push(() => created.drop())
  if (backend === 'postgres') {
    return {
      env: { JWT_SECRET: 'x'.repeat(40), DB_CONNECT_TIMEOUT_SECONDS: '10', DATABASE_URL: created.url! },
      cli: {},
      use: (fn) => fn(created.db),
    }
  }
  return { env: NOWHERE, cli: { database: created.db }, use: (fn) => fn(created.db) }
}

async function insertUser(db: Queryable, email: string): Promise<number> {
  const rows = await db.query<{ id: number }>(`insert into users (email, password_hash) values ($1, 'not-a-real-hash') returning id`, [
    email,
  ])
  return rows[0]!.id
}

/** The user's entries as comparable rows, in id order: content and every timestamp to the microsecond. */
async function entriesOf(db: Queryable, userId: number): Promise<string[]> {
  const rows = await db.query<{ line: string }>(
    `select json_build_array(text, mood, category,
              to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
              to_char(created_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
              to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'))::text as line
       from entries where user_id = $1 order by id`,
    [userId],
  )
  return rows.map((r) => r.line)
}

const AUTHOR = 'author@example.com'

/** Entries with what tends to break a format: quotes, commas, line breaks, other scripts, microseconds. */
async function seed(db: Queryable, userId: number): Promise<void> {
  await db.query(
    `insert into entries (user_id, text, mood, category, occurred_at, created_at, updated_at) values
       ($1, 'Said "yes", then no.' || chr(10) || 'Second line', 7, 'work, mostly', '2024-05-01 18:30:00.123456+02', '2024-05-01 18:31:00.000001Z', '2024-05-02 09:00:00.5Z'),
       ($1, 'Grüße 🎉 ## not a heading', 3, 'ünïcödé', '2024-05-02 06:00:00Z', '2024-05-02 06:00:01Z', '2024-05-02 06:00:01Z')`,
    [userId],
  )
}

const DAYLIO = [
  'full_date,date,weekday,time,mood,activities,note_title,note',
  '2024-03-31,March 31,Sunday,11:54 pm,rad,family | cooking,Easter,Lunch with everyone.',
  '2024-03-30,March 30,Saturday,13:48,meh,work,,Late shift.',
].join('\n')

const JRNL = JSON.stringify({
  tags: {},
  entries: [{ title: 'Shipped.', body: 'Long day.', date: '2024-05-01', time: '18:30', tags: ['@work'], starred: true }],
})

for (const backend of backendNames()) {
  describe(`moodlog export and import formats [${backend}]`, { concurrency: false }, () => {
    test('when a journal is exported as NDJSON or CSV and imported, then every entry is identical; Markdown exports to read', async () => {
      const at = await place(backend)
      const dir = await tempDir()
      const [authorId, source] = await at.use(async (db) => {
        const id = await insertUser(db, AUTHOR)
        await seed(db, id)
        return [id, await entriesOf(db, id)] as const
      })
      const ndjson = path.join(dir, 'journal.ndjson')
      const csv = path.join(dir, 'journal.csv')
      const markdown = path.join(dir, 'journal.md')
      for (const [format, file] of [
        ['ndjson', ndjson],
        ['csv', csv],
        ['markdown', markdown],
      ] as const) {
        const exported = await cli(['export', '--user', AUTHOR, '--format', format, '--out', file], at.env, at.cli)
        assert.equal(exported.code, 0, exported.output)
        assert.match(exported.output, /exported 2 entries/)
      }
      assert.match(
        (await readFile(csv, 'utf8')).split('\r\n')[0]!,
        /^"id","occurredAt","mood","category","text","createdAt","updatedAt","version"$/,
      )
      const md = await readFile(markdown, 'utf8')
      assert.match(md, /^## 2024-05-01, Wednesday$/m)
      assert.match(md, /Said "yes", then no\./)

      // Each into an account of its own, the format named and then guessed from the file name.
      for (const [args, email] of [
        [['--in', ndjson, '--format', 'moodlog'], 'ndjson-named@example.com'],
        [['--in', ndjson], 'ndjson-guessed@example.com'],
        [['--in', csv, '--format', 'csv'], 'csv-named@example.com'],
        [['--in', csv], 'csv-guessed@example.com'],
      ] as const) {
        const userId = await at.use((db) => insertUser(db, email))
        const imported = await cli(['import', '--user', email, ...args], at.env, at.cli)
        assert.equal(imported.code, 0, imported.output)
        assert.match(imported.output, /imported 2 entries/)
        assert.deepEqual(await at.use((db) => entriesOf(db, userId)), source, args.join(' '))
      }

      // Markdown is for reading: it is not an import format, and the refusal names the ones there are.
      const refused = await cli(['import', '--user', AUTHOR, '--in', markdown, '--format', 'markdown'], at.env, at.cli)
      assert.equal(refused.code, 64, refused.output)
      assert.match(refused.output, /--format must be one of moodlog, csv, daylio, jrnl/)
      const wrongExport = await cli(['export', '--user', AUTHOR, '--format', 'jrnl'], at.env, at.cli)
      assert.equal(wrongExport.code, 64, wrongExport.output)
      assert.match(wrongExport.output, /--format must be one of ndjson, csv, markdown/)
      assert.deepEqual(await at.use((db) => entriesOf(db, authorId)), source, 'nothing was imported by a refusal')
    })

    test('when Daylio and jrnl files are imported, then they come in with their options, and without them are refused', async () => {
      const at = await place(backend)
      const dir = await tempDir()
      const userId = await at.use((db) => insertUser(db, AUTHOR))
      const daylio = path.join(dir, 'daylio_export.csv')
      const jrnl = path.join(dir, 'jrnl.json')
      await writeFile(daylio, DAYLIO)
      await writeFile(jrnl, JRNL)

      const noZone = await cli(['import', '--user', AUTHOR, '--in', daylio, '--format', 'daylio'], at.env, at.cli)
      assert.equal(noZone.code, 64, noZone.output)
      assert.match(noZone.output, /--tz ZONE is required for Daylio files/)
      const noMood = await cli(['import', '--user', AUTHOR, '--in', jrnl], at.env, at.cli)
      assert.equal(noMood.code, 64, noMood.output)
      assert.match(noMood.output, /--default-mood N is required for jrnl files/)
      // A Daylio file read as moodlog CSV is not one: refused as unreadable, nothing written.
      const asCsv = await cli(['import', '--user', AUTHOR, '--in', daylio], at.env, at.cli)
      assert.equal(asCsv.code, 65, asCsv.output)
      assert.deepEqual(await at.use((db) => entriesOf(db, userId)), [])

      const fromDaylio = await cli(
        ['import', '--user', AUTHOR, '--in', daylio, '--format', 'daylio', '--tz', 'Europe/Berlin'],
        at.env,
        at.cli,
      )
      assert.equal(fromDaylio.code, 0, fromDaylio.output)
      assert.match(fromDaylio.output, /imported 2 entries/)
      const fromJrnl = await cli(['import', '--user', AUTHOR, '--in', jrnl, '--default-mood', '6', '--tz', 'Europe/Berlin'], at.env, at.cli)
      assert.equal(fromJrnl.code, 0, fromJrnl.output)
      assert.match(fromJrnl.output, /imported 1 entries/)

      const stored = await at.use((db) =>
        db.query<{ text: string; mood: number; category: string; at: string }>(
          `select text, mood, category, to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') as at
             from entries where user_id = $1 order by occurred_at`,
          [userId],
        ),
      )
      assert.deepEqual(stored, [
        { text: 'Late shift.\n\nActivities: work', mood: 5, category: 'work', at: '2024-03-30 12:48' },
        { text: 'Easter\n\nLunch with everyone.\n\nActivities: family, cooking', mood: 10, category: 'family', at: '2024-03-31 21:54' },
        { text: 'Shipped.\nLong day.\n\nStarred', mood: 6, category: 'work', at: '2024-05-01 16:30' },
      ])
    })

    test('when an import is run with --notify, then one entry.created event is recorded per new entry; without it, none', async () => {
      const at = await place(backend)
      const file = path.join(await tempDir(), 'entries.ndjson')
      const entry = (i: number) => JSON.stringify({ text: `note ${i}`, mood: 5, category: 'work', occurredAt: `2024-05-0${i}T08:00:00Z` })
      const userId = await at.use(async (db) => {
        const id = await insertUser(db, AUTHOR)
        await db.query(`insert into webhook_endpoints (user_id, url, events, secret) values ($1, 'http://127.0.0.1:9/hook', $2, $3)`, [
          id,
          ['entry.created'],
          `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
        ])
        return id
      })
      const events = () =>
        at.use(async (db) => {
          const rows = await db.query<{ text: string }>(
            `select (body::json) -> 'data' ->> 'text' as text from webhook_deliveries
              where user_id = $1 and event_type = 'entry.created' order by id`,
            [userId],
          )
          return rows.map((r) => r.text)
        })

      await writeFile(file, [entry(1), entry(2)].join('\n'))
      const quiet = await cli(['import', '--user', AUTHOR, '--in', file], at.env, at.cli)
      assert.equal(quiet.code, 0, quiet.output)
      assert.deepEqual(await events(), [], 'a quiet import by default')

      await writeFile(file, [entry(2), entry(3), entry(4)].join('\n'))
      const dryRun = await cli(['import', '--user', AUTHOR, '--in', file, '--notify', '--dry-run'], at.env, at.cli)
      assert.match(dryRun.output, /would import 2 entries/)
      assert.deepEqual(await events(), [], 'a dry run records nothing')
      const notified = await cli(['import', '--user', AUTHOR, '--in', file, '--notify'], at.env, at.cli)
      assert.equal(notified.code, 0, notified.output)
      assert.match(notified.output, /imported 2 entries .*\(1 already there\)/)
      assert.deepEqual(await events(), ['note 3', 'note 4'], 'one event per entry actually created')
    })
  })
}
