import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.js'
import {
  backendNames,
  createTestDatabase,
  describeEachBackend,
  testConfig,
  type Harness,
  type TestDatabase,
} from '../../test/support/harness.js'
import { createEntry } from '../../test/support/entries.js'
import { seedJournal, storedEntries } from '../../test/support/journal.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

/** Every control character JSON escapes, the ones it does not (DEL, U+2028/9), quotes, backslashes and astral text. */
const AWKWARD_TEXT =
  Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('') +
  ' "quoted" back\\slash \\u0041 / \u007f \u2028\u2029 é 今日 🎉 \uffff end'

/** How the export wrote each entry before Postgres rendered the pages: keys in the API's order, `JSON.stringify`. */
function ndjsonAsBefore(entries: Array<Record<string, unknown>>): string {
  return entries
    .map(({ id, text, mood, category, occurredAt, createdAt, updatedAt, version }) =>
      JSON.stringify({ id, text, mood, category, occurredAt, createdAt, updatedAt, version }),
    )
    .join('\n')
}

interface Journal {
  user: SignedIn
  entries: Array<Record<string, unknown>>
}

/** 2,500 seeded entries (three pages), then one of every awkward character, then someone else's entry. */
async function journalOf(h: Harness): Promise<Journal> {
  const user = await signUp(h)
  await seedJournal(h.db, user.id)
  await createEntry(h, user, { text: AWKWARD_TEXT, mood: 3, category: 'a "b" \\ c 🎉', occurredAt: '2024-05-01T10:00:00.5+02:00' })
  const other = await signUp(h)
  await createEntry(h, other, { text: 'not mine', mood: 5, category: 'other' })
  return { user, entries: await storedEntries(h.db, user.id) }
}

function assertBodyAsBefore(body: string, entries: Array<Record<string, unknown>>, count = 2501): void {
  assert.ok(body.endsWith('\n'), 'the file ends with a newline')
  const [header, ...lines] = body.slice(0, -1).split('\n')
  assert.equal(JSON.parse(header!).format, 'moodlog')
  assert.equal(lines.length, count)
  // Byte for byte, not only as parsed JSON: escapes, key order and spacing are those of JSON.stringify.
  assert.equal(lines.join('\n'), ndjsonAsBefore(entries))
}

describeEachBackend('GET /export?format=ndjson, pages rendered by Postgres', (h) => {
  test('when entries hold every awkward character, then each line is byte for byte what JSON.stringify of the entry gives', async () => {
    const { user, entries } = await journalOf(h)
    const res = await h.request({ method: 'GET', url: '/export?format=ndjson', headers: user.auth })
    assert.equal(res.statusCode, 200, res.body)
    assertBodyAsBefore(res.body, entries)
  })
})

// Server mode as deployed (DATABASE_URL set): the NDJSON pages come as raw bytes on the export lane of the database.
for (const backend of backendNames().filter((name) => name === 'postgres')) {
  describe('GET /export?format=ndjson in server mode [postgres]', () => {
    let testDb: TestDatabase
    let app: FastifyInstance
    const config = testConfig({ DATABASE_URL: 'postgres://set-in-before' })
    const h: Harness = {
      backend,
      config,
      get app() {
        return app
      },
      get db() {
        return testDb.db
      },
      request: (options) => app.inject(options) as never,
    }

    before(async () => {
      testDb = await createTestDatabase(backend)
      app = await buildApp({ ...config, databaseUrl: testDb.url }, { db: testDb.db, logger: false })
      await app.ready()
    })
    after(async () => {
      await app?.close()
      await testDb?.drop()
    })

    test('when a journal is exported, then its pages are read on a connection of the export, and the file is byte for byte as before', async () => {
      const { user, entries } = await journalOf(h)
      const res = await h.request({ method: 'GET', url: '/export?format=ndjson', headers: user.auth })
      assert.equal(res.statusCode, 200, res.body)
      assertBodyAsBefore(res.body, entries)
      // The scan lane's connections stay free for list pages; the export's own one idles until closed.
      const [exporting] = await testDb.db.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'moodlog-export'`,
      )
      assert.equal(exporting!.n, 1)
    })

    test('when an export waits for its next page, then it waits on the export lane, moodlog-export, counted in the pool usage and the metrics', async () => {
      const user = await signUp(h)
      await seedJournal(testDb.db, user.id)
      // Nobody reads this body yet: the export stops at its backpressure, between two pages.
      const exporting = await app.inject({ method: 'GET', url: '/export', headers: user.auth, payloadAsStream: true })
      assert.equal(exporting.statusCode, 200)
      let release!: () => void
      const released = new Promise<void>((resolve) => (release = resolve))
      let locked!: () => void
      const locking = new Promise<void>((resolve) => (locked = resolve))
      // Every page read waits for this lock, so the export's next one stays in flight until it goes.
      const holder = testDb.db.transaction(async (tx) => {
        await tx.query('lock table entries in access exclusive mode')
        locked()
        await released
      })
      let reading: Promise<string> | undefined
      try {
        await locking
        reading = (async () => {
          const chunks: Buffer[] = []
          for await (const chunk of exporting.stream()) chunks.push(chunk as Buffer)
          return Buffer.concat(chunks).toString('utf8')
        })()
        // Polls a condition, not a clock: the page is in flight once the server shows its backend waiting.
        const waitingExports = async () =>
          (
            await testDb.db.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity
                where datname = current_database() and application_name = 'moodlog-export' and wait_event_type = 'Lock'`,
            )
          )[0]!.n
        while ((await waitingExports()) < 1) await new Promise((resolve) => setTimeout(resolve, 20))

        const usage = Object.fromEntries(app.db.usage().map((u) => [u.pool, u]))
        assert.deepEqual(usage.exports, { pool: 'exports', size: 1, inFlight: 1 })
        assert.equal(usage.scans?.inFlight, 0, 'not a page of the scan lane')
        const metrics = await app.inject({ method: 'GET', url: '/metrics' })
        assert.match(metrics.body, /^moodlog_db_pool_in_use\{pool="exports"\} 1$/m)
        assert.match(metrics.body, /^moodlog_db_pool_size\{pool="exports"\} 1$/m)
      } finally {
        release()
        await holder
        // An unread body would keep the app from closing.
        if (!reading) exporting.stream().resume()
      }
      assertBodyAsBefore(await reading, await storedEntries(testDb.db, user.id), 2500)
      assert.equal(app.db.usage().find((u) => u.pool === 'exports')?.inFlight, 0)
    })

    test('when the journal is empty, then the file is the header line alone', async () => {
      const user = await signUp(h)
      const res = await h.request({ method: 'GET', url: '/export', headers: user.auth })
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual(Object.keys(JSON.parse(res.body)), ['format', 'version', 'exportedAt'])
      assert.equal(res.body.split('\n').length, 2)
    })
  })
}
