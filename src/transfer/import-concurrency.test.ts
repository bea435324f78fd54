import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.js'
import { describeEachBackend, type Harness } from '../../test/support/harness.js'
import { createEntry, listEntries } from '../../test/support/entries.js'
import { storedEntries } from '../../test/support/journal.js'
import { signUp, type SignedIn } from '../../test/support/users.js'
import { IMPORT_LOCK_CLASS } from './queries.js'

const file = Array.from({ length: 50 }, (_, i) =>
  JSON.stringify({ text: `evening ${i}`, mood: 6, category: 'home', occurredAt: `2024-05-01T18:${String(i).padStart(2, '0')}:00Z` }),
).join('\n')

function importFile(app: FastifyInstance, user: SignedIn) {
  return app.inject({ method: 'POST', url: '/import', headers: { ...user.auth, 'content-type': 'application/x-ndjson' }, payload: file })
}

/** Backends of this file's database that wait for a lock (a row, or an advisory lock). */
async function waitingForLocks(h: Harness): Promise<number> {
  const rows = await h.db.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
  )
  return rows[0]!.n
}

/**
 * Runs the requests `start` begins so that their writes overlap on a server: the test holds the
 * account's row of entry counts, which every insert of its entries updates before it commits, so
 * each request stops after its insert statement, uncommitted, until all `writers` wait; then the
 * row is let go. (Every import of the old code got that far, each blind to the other's rows.)
 * Embedded PGlite has one connection, where transactions never overlap: the requests just run.
 */
async function overlapping<T>(h: Harness, userId: number, writers: number, start: () => Array<Promise<T>>): Promise<T[]> {
  if (h.backend === 'pglite') return Promise.all(start())
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let held!: () => void
  const holding = new Promise<void>((resolve) => (held = resolve))
  const holder = h.db.transaction(async (tx) => {
    await tx.query('select total from entry_counts where user_id = $1 for update', [userId])
    held()
    await released
  })
  await holding
  const requests = start()
  try {
    // Polls a condition, not a clock: the requests are waiting once the server says so.
    while ((await waitingForLocks(h)) < writers) await new Promise((resolve) => setTimeout(resolve, 20))
  } finally {
    release()
    await holder
  }
  return Promise.all(requests)
}

describeEachBackend('POST /import at the same time as other writes', (h) => {
  test(
    'when one file is imported twice at the same time, through two instances, then each of its entries is written once',
    { timeout: 120_000 },
    async () => {
      const user = await signUp(h)
      // The account's first entry gives it the row of counts that `overlapping` holds.
      await createEntry(h, user, { text: 'before', mood: 5, category: 'home', occurredAt: '2024-04-30T12:00:00Z' })

      // One instance runs one import per account at a time: a second instance on the same database runs the other.
      const other = await buildApp(h.config, { db: h.db, logger: false })
      const answers = await overlapping(h, user.id, 2, () => [importFile(h.app, user), importFile(other, user)]).finally(() =>
        other.close(),
      )

      for (const res of answers) assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual(answers.map((res) => res.json().created).sort(), [0, 50])
      assert.deepEqual(answers.map((res) => res.json().skipped).sort(), [0, 50])
      const texts = (await storedEntries(h.db, user.id)).map((e) => e.text)
      assert.equal(texts.length, 51, 'no entry twice')
      assert.equal(new Set(texts).size, 51)
      assert.equal((await listEntries(h, user, {})).json().total, 51)
    },
  )

  test(
    'when an import and POST /entries write at the same time, then both succeed and the journal counts both',
    { timeout: 120_000 },
    async () => {
      const user = await signUp(h)
      await createEntry(h, user, { text: 'before', mood: 5, category: 'home', occurredAt: '2024-04-30T12:00:00Z' })

      const [imported, posted] = await overlapping(h, user.id, 2, () => [
        importFile(h.app, user),
        h.request({ method: 'POST', url: '/entries', headers: user.auth, payload: { text: 'evening 0', mood: 6, category: 'home' } }),
      ])

      assert.equal(imported!.statusCode, 200, imported!.body)
      assert.equal(imported!.json().created, 50)
      assert.equal(posted!.statusCode, 201, posted!.body)
      assert.equal((await storedEntries(h.db, user.id)).length, 52)
      assert.equal((await listEntries(h, user, {})).json().total, 52)
    },
  )

  // Only a server runs two transactions at once: embedded, the deletion cannot come in between.
  if (h.backend === 'postgres') {
    test(
      'when the account is deleted while its import waits to write, then the import is 401 and nothing is left',
      { timeout: 120_000 },
      async () => {
        const user = await signUp(h)
        let release!: () => void
        const released = new Promise<void>((resolve) => (release = resolve))
        let held!: () => void
        const holding = new Promise<void>((resolve) => (held = resolve))
        // The test takes the user's turn to import, so the import has read its file and waits to write.
        const holder = h.db.transaction(async (tx) => {
          await tx.query('select pg_advisory_xact_lock($1::int4, $2::int4)', [IMPORT_LOCK_CLASS, user.id])
          held()
          await released
        })
        await holding
        const importing = importFile(h.app, user)
        try {
          while ((await waitingForLocks(h)) < 1) await new Promise((resolve) => setTimeout(resolve, 20))
          const deleted = await h.request({ method: 'DELETE', url: '/me', headers: user.auth, payload: { password: user.password } })
          assert.equal(deleted.statusCode, 204, deleted.body)
        } finally {
          release()
          await holder
        }
        const res = await importing
        assert.equal(res.statusCode, 401, res.body)
        assert.match(res.headers['content-type'] as string, /^application\/problem\+json/)
        assert.match(res.json().detail, /no longer exists/)
        assert.deepEqual(await storedEntries(h.db, user.id), [])
      },
    )
  }
})
