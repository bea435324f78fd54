import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { buildApp } from '../src/app.js'
import { failureOf, run } from '../src/cli.js'
import { copyDatabase } from '../src/db/copy.js'
import { openEmbeddedDatabase } from '../src/db/embedded.js'
import { openServerDatabase } from '../src/db/server.js'
import { migrate, type Database, type Transaction } from '../src/db/index.js'
import { preparedDataDir } from './support/data-dir.js'
import { createTestDatabase, testConfig, type Harness } from './support/harness.js'
import { signIn, signUp } from './support/users.js'

const tempDirs: string[] = []
const dropLater: Array<() => Promise<void>> = []
after(async () => {
  for (const drop of dropLater) await drop()
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true })
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-copy-'))
  tempDirs.push(dir)
  return dir
}

/** A DATA_DIR that a first start (initialised and migrated) already left behind. */
const startedDir = async () => preparedDataDir(await tempDir())

/** A database location for the CLI: a Postgres server database when the suite has one, else a DATA_DIR. */
async function serverOrDir(): Promise<string> {
  if (!process.env.TEST_DATABASE_URL) return startedDir()
  const created = await createTestDatabase('postgres')
  // Its own pool closes now; the CLI opens the database by URL.
  await created.db.close()
  dropLater.push(() => created.drop().catch(() => {}))
  return created.url!
}

async function open(location: string): Promise<Database> {
  return location.startsWith('postgres')
    ? openServerDatabase({ url: location, poolSize: 2, statementTimeoutMs: 30_000, connectTimeoutMs: 10_000, acquireTimeoutMs: 10_000 })
    : openEmbeddedDatabase(location)
}

async function withDb<T>(location: string, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await open(location)
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

/** An app on the database at `location`, for the length of `fn`: the installation as its users see it. */
async function withApp<T>(location: string, fn: (h: Harness) => Promise<T>): Promise<T> {
  return withDb(location, async (db) => {
    await migrate(db)
    const config = testConfig({ WEBHOOKS_ALLOW_HTTP: 'true', WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true' })
    const app = await buildApp(config, { db, logger: false })
    await app.ready()
    try {
      return await fn({ backend: 'pglite', app, db, config, request: (options) => app.inject(options) as never })
    } finally {
      await app.close()
    }
  })
}

/** Every row of every table, as JSON text in primary-key order, read in UTC: what must survive a move. */
async function everything(db: Database): Promise<Record<string, string[]>> {
  return db.transaction(async (tx) => {
    await tx.query("set local timezone = 'UTC'")
    const tables = await tx.query<{ table: string; key: string }>(
      `select tc.table_name as "table", string_agg(quote_ident(k.column_name), ', ' order by k.ordinal_position) as key
         from information_schema.table_constraints tc
         join information_schema.key_column_usage k on k.constraint_name = tc.constraint_name and k.constraint_schema = tc.constraint_schema
        where tc.table_schema = 'public' and tc.constraint_type = 'PRIMARY KEY' and tc.table_name <> 'schemaversion'
        group by tc.table_name order by tc.table_name`,
    )
    const all: Record<string, string[]> = {}
    for (const { table, key } of tables) {
      const rows = await tx.query<{ row: string }>(`select row_to_json(t)::text as row from ${table} t order by ${key}`)
      all[table] = rows.map((r) => r.row)
    }
    return all
  })
}

const lines = async (args: string[]) => {
  const out: string[] = []
  const code = await run(args, { LOG_LEVEL: 'silent' }, (line) => out.push(line))
  return { code, out }
}

/** Without a Postgres server in this run, the middle stop is a second DATA_DIR. */
const middle = process.env.TEST_DATABASE_URL ? 'server' : 'embedded'

describe('moodlog db copy', () => {
  test(`when an installation moves embedded → ${middle} → embedded, then every row of every table arrives, sequences continue and people sign in`, async () => {
    const laptop = await startedDir()
    const server = await serverOrDir()
    // Never opened: the copy initialises it.
    const back = await tempDir()

    const people = await withApp(laptop, async (h) => {
      const ada = await signUp(h)
      const grace = await signUp(h)
      const texts = ['first 🌧️ evening', 'quote "x", comma, and\nnew line', 'Ünïcödé at 23:59:59.999999']
      for (const [i, text] of texts.entries()) {
        const created = await h.request({
          method: 'POST',
          url: '/entries',
          headers: { ...ada.auth, 'idempotency-key': `copy-${i}` },
          payload: { text, mood: i + 3, category: 'copy', occurredAt: `2026-0${i + 1}-15T23:59:59.123+05:30` },
        })
        assert.equal(created.statusCode, 201, created.body)
      }
      const imported = await h.request({
        method: 'POST',
        url: '/import',
        headers: { ...ada.auth, 'content-type': 'application/x-ndjson' },
        payload: '{"text":"imported, to the microsecond","mood":4,"category":"home","occurredAt":"2026-04-01T00:00:00.123456Z"}',
      })
      assert.equal(imported.json().created, 1, imported.body)
      const hook = await h.request({ method: 'POST', url: '/webhooks', headers: grace.auth, payload: { url: 'http://127.0.0.1:9/hook' } })
      assert.equal(hook.statusCode, 201, hook.body)
      const doomed = await h.request({
        method: 'POST',
        url: '/entries',
        headers: grace.auth,
        payload: { text: 'gone', mood: 1, category: 'x' },
      })
      assert.equal(
        (
          await h.request({
            method: 'DELETE',
            url: `/entries/${doomed.json().id}`,
            headers: { ...grace.auth, 'if-match': doomed.headers.etag as string },
          })
        ).statusCode,
        204,
      )
      const kept = await h.request({
        method: 'POST',
        url: '/entries',
        headers: grace.auth,
        payload: { text: 'kept', mood: 9, category: 'x' },
      })
      assert.equal(kept.statusCode, 201, kept.body)
      // The newest entry and the newest account are deleted: their ids were handed out all the same.
      const latest = await h.request({
        method: 'POST',
        url: '/entries',
        headers: grace.auth,
        payload: { text: 'latest', mood: 2, category: 'x' },
      })
      const removed = await h.request({
        method: 'DELETE',
        url: `/entries/${latest.json().id}`,
        headers: { ...grace.auth, 'if-match': latest.headers.etag as string },
      })
      assert.equal(removed.statusCode, 204, removed.body)
      const leaver = await signUp(h)
      const left = await h.request({ method: 'DELETE', url: '/me', headers: leaver.auth, payload: { password: leaver.password } })
      assert.equal(left.statusCode, 204, left.body)
      return { ada, grace, lastEntryId: latest.json().id as number, lastUserId: leaver.id }
    })

    const original = await withDb(laptop, everything)
    assert.equal(original.entries!.length, 5, original.entries!.join('\n'))
    assert.ok(original.users!.length === 2 && original.sessions!.length >= 2, 'rows to move')
    assert.ok(
      original.entries!.some((row) => row.includes('"2026-04-01T00:00:00.123456+00:00"')),
      'microseconds are stored (the API shows milliseconds; the comparisons below see them all)',
    )
    assert.ok(original.webhook_deliveries!.length >= 3, 'queued webhook deliveries move too')
    assert.ok(original.entry_counts!.length === 2, 'derived counts too')

    const up = await lines(['db', 'copy', '--from', laptop, '--to', server])
    assert.equal(up.code, 0, up.out.join('\n'))
    assert.match(up.out.join('\n'), /^entries +5 rows +checksum \d+$/m)
    assert.match(up.out.at(-1)!, /row counts and checksums match the source/)
    assert.deepEqual(await withDb(server, everything), original)

    const down = await lines(['db', 'copy', '--from', server, '--to', back])
    assert.equal(down.code, 0, down.out.join('\n'))
    assert.deepEqual(await withDb(back, everything), original)

    await withApp(back, async (h) => {
      const ada = await signIn(h, people.ada.email, people.ada.password)
      const page = await h.request({ method: 'GET', url: '/entries', headers: ada.auth })
      assert.deepEqual(
        page.json().items.map((e: { text: string; occurredAt: string }) => [e.text, e.occurredAt]),
        [
          ['imported, to the microsecond', '2026-04-01T00:00:00.123Z'],
          ['Ünïcödé at 23:59:59.999999', '2026-03-15T18:29:59.123Z'],
          ['quote "x", comma, and\nnew line', '2026-02-15T18:29:59.123Z'],
          ['first 🌧️ evening', '2026-01-15T18:29:59.123Z'],
        ],
      )
      const highest = Math.max(...original.entries!.map((row) => (JSON.parse(row) as { id: number }).id))
      const next = await h.request({
        method: 'POST',
        url: '/entries',
        headers: ada.auth,
        payload: { text: 'after the move', mood: 6, category: 'copy' },
      })
      assert.equal(next.statusCode, 201, next.body)
      assert.ok(next.json().id > highest, `new id ${next.json().id} is past ${highest}`)
      // An id is never given twice, not even one whose row was deleted before the move: receivers
      // of webhook events and other systems may still know it.
      assert.ok(next.json().id > people.lastEntryId, `new entry id ${next.json().id} is past the deleted ${people.lastEntryId}`)
      const newcomer = await signUp(h)
      assert.ok(newcomer.id > people.lastUserId, `new user id ${newcomer.id} is past the deleted ${people.lastUserId}`)
      const grace = await signIn(h, people.grace.email, people.grace.password)
      const hook = await h.request({ method: 'POST', url: '/webhooks', headers: grace.auth, payload: { url: 'http://127.0.0.1:9/again' } })
      assert.equal(hook.statusCode, 201, hook.body)
    })
  })

  test('when the target holds rows, then the copy is refused and nothing changes; --force replaces them', async () => {
    const source = await startedDir()
    const target = await startedDir()
    for (const location of [source, target]) {
      await withApp(location, async (h) => {
        await signUp(h)
      })
    }
    const before = await withDb(target, everything)

    await assert.rejects(lines(['db', 'copy', '--from', source, '--to', target]), /target is not empty \(.*users.*\); --force/)
    assert.deepEqual(await withDb(target, everything), before)

    const forced = await lines(['db', 'copy', '--from', source, '--to', target, '--force'])
    assert.equal(forced.code, 0, forced.out.join('\n'))
    assert.deepEqual(await withDb(target, everything), await withDb(source, everything))
  })

  test('when --from and --to name one database, or one is missing, then nothing is opened', async () => {
    const dir = await tempDir()
    await assert.rejects(lines(['db', 'copy', '--from', dir, '--to', `${dir}/`]), /the same database/)
    assert.equal((await lines(['db', 'copy', '--from', dir])).code, 64)
  })

  test('when --from is a mistyped path, an empty directory or a file, then the copy is refused with exit 66 and nothing is created', async () => {
    const dir = await tempDir()
    const to = path.join(dir, 'target')
    const refusal = async (from: string, message: RegExp) => {
      let failure: { message: string; exitCode: number } | undefined
      await lines(['db', 'copy', '--from', from, '--to', to]).catch((error: unknown) => (failure = failureOf(error)))
      assert.ok(failure, `--from ${from} was accepted`)
      assert.equal(failure.exitCode, 66)
      assert.match(failure.message, message)
      assert.equal(existsSync(to), false, 'the target was not created either')
    }
    const mistyped = path.join(dir, 'dtaa')
    await refusal(mistyped, /^--from .*dtaa does not exist; give the DATA_DIR/)
    assert.equal(existsSync(mistyped), false)
    const empty = path.join(dir, 'empty')
    await mkdir(empty)
    await refusal(empty, /is not a moodlog data directory/)
    const file = path.join(dir, 'notes.txt')
    await writeFile(file, 'not a database')
    await refusal(file, /is not a directory/)
    assert.deepEqual((await readdir(dir)).sort(), ['empty', 'notes.txt'])
    assert.deepEqual(await readdir(empty), [], 'no lock file, no pgdata')
  })

  test('when a copied row differs from the source, then the mismatch is reported per table and nothing is written', async () => {
    const from = await tempDir()
    const to = await tempDir()
    await withApp(from, async (h) => {
      const user = await signUp(h)
      const created = await h.request({
        method: 'POST',
        url: '/entries',
        headers: user.auth,
        payload: { text: 'as written', mood: 6, category: 'c' },
      })
      assert.equal(created.statusCode, 201, created.body)
    })
    await withDb(from, (source) =>
      withDb(to, async (target) => {
        // The difference is injected on the way in: each batch of entries arrives with its first text changed.
        const tamper = (tx: Transaction): Transaction => ({
          exec: (script) => tx.exec(script),
          query: (text, params) => {
            if (!/insert into "entries"/.test(text) || !params) return tx.query(text, params)
            const rows = JSON.parse(params[0] as string) as Array<{ text: string }>
            rows[0]!.text = 'as remembered'
            return tx.query(text, [JSON.stringify(rows), ...params.slice(1)])
          },
        })
        const tampered = new Proxy(target, {
          get(db, property) {
            if (property === 'transaction')
              return (fn: (tx: Transaction) => Promise<unknown>, options?: never) => db.transaction((tx) => fn(tamper(tx)), options)
            const value = Reflect.get(db, property, db) as unknown
            return typeof value === 'function' ? value.bind(db) : value
          },
        })
        await assert.rejects(copyDatabase(source, tampered), (error: Error) => {
          assert.match(
            error.message,
            /^the copy does not match the source in entries \(source 1 rows, checksum \d+; copy 1 rows, checksum \d+\); nothing was written/,
          )
          assert.doesNotMatch(error.message, /users/, 'only the table that differs is named')
          assert.equal(failureOf(error).exitCode, 1)
          return true
        })
        const left = await everything(target)
        assert.deepEqual(
          Object.entries(left).filter(([, rows]) => rows.length > 0),
          [],
          'the copy was rolled back',
        )
      }),
    )
  })
})
