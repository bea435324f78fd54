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

function assertBodyAsBefore(body: string, entries: Array<Record<string, unknown>>): void {
  assert.ok(body.endsWith('\n'), 'the file ends with a newline')
  const [header, ...lines] = body.slice(0, -1).split('\n')
  assert.equal(JSON.parse(header!).format, 'moodlog')
  assert.equal(lines.length, 2501)
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

// Server mode as deployed: DATABASE_URL set, so the NDJSON pages come as raw bytes on the export's own connection.
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

    test('when the journal is empty, then the file is the header line alone', async () => {
      const user = await signUp(h)
      const res = await h.request({ method: 'GET', url: '/export', headers: user.auth })
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual(Object.keys(JSON.parse(res.body)), ['format', 'version', 'exportedAt'])
      assert.equal(res.body.split('\n').length, 2)
    })
  })
}
