import assert from 'node:assert/strict'
import { test } from 'node:test'
import { migrate } from '../db/index.js'
import { createEntry, listEntries } from '../../test/support/entries.js'
import { describeEachBackend, type Harness } from '../../test/support/harness.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

/** The schema version just before migration 007 (whatever 006 holds). */
const BEFORE_007 = '6'

const total = async (h: Harness, user: SignedIn, params: Record<string, string> = {}) => {
  const res = await listEntries(h, user, { limit: 1, ...params })
  assert.equal(res.statusCode, 200, res.body)
  return res.json().total as number
}

const rows = async (h: Harness, userId: number) =>
  (await h.db.query<{ n: number }>('select count(*)::int as n from entries where user_id = $1', [userId]))[0]!.n

const keptRow = async (h: Harness, userId: number) =>
  (await h.db.query<{ total: number }>('select total::int as total from entry_counts where user_id = $1', [userId]))[0]?.total

const ndjson = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, i) =>
    JSON.stringify({ text: `${prefix} ${i}`, mood: 1 + (i % 10), category: 'imported', occurredAt: '2024-05-01T18:30:00+02:00' }),
  ).join('\n')

const importFile = (h: Harness, user: SignedIn, body: string) =>
  h.request({ method: 'POST', url: '/import', headers: { ...user.auth, 'content-type': 'application/x-ndjson' }, payload: body })

/** Until `check` holds, asking the database again whenever it answers (no fixed waits). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 10_000; attempt++) if (await check()) return
  throw new Error(`never: ${what}`)
}

describeEachBackend(
  'GET /entries total',
  (h) => {
    test('when entries arrive by import, then the total counts them, and an import refused for a bad row changes nothing', async () => {
      const user = await signUp(h)
      await createEntry(h, user, { text: 'by hand', mood: 5, category: 'misc' })

      const imported = await importFile(h, user, ndjson(1200, 'imported'))
      assert.equal(imported.statusCode, 200, imported.body)
      assert.equal(imported.json().created, 1200)
      assert.equal(await total(h, user), 1201)

      const refused = await importFile(h, user, `${ndjson(300, 'second')}\n${JSON.stringify({ text: 'bad', mood: 11, category: 'x' })}`)
      assert.equal(refused.statusCode, 422, refused.body)
      assert.equal(await total(h, user), 1201, 'all or nothing: not one row of the refused file counts')
      assert.equal(await total(h, user, { category: 'imported' }), 1200, 'a filtered total is counted')
      assert.equal(await rows(h, user.id), 1201)
    })

    test('when one user creates and deletes at once, then the total is exact and another user is untouched', async () => {
      const user = await signUp(h)
      const other = await signUp(h)
      await createEntry(h, other, { text: 'theirs', mood: 5, category: 'misc' })
      const first = await Promise.all(
        Array.from({ length: 6 }, (_, i) => createEntry(h, user, { text: `first ${i}`, mood: 5, category: 'misc' })),
      )

      const results = await Promise.all([
        ...Array.from({ length: 12 }, (_, i) =>
          h.request({ method: 'POST', url: '/entries', headers: user.auth, payload: { text: `then ${i}`, mood: 4, category: 'misc' } }),
        ),
        ...first.slice(0, 4).map((entry) => h.request({ method: 'DELETE', url: `/entries/${entry.id}`, headers: user.auth })),
      ])
      assert.deepEqual(
        results.map((res) => res.statusCode),
        [...Array(12).fill(201), ...Array(4).fill(204)],
      )
      assert.equal(await total(h, user), 6 + 12 - 4)
      assert.equal(await rows(h, user.id), 6 + 12 - 4)
      assert.equal(await total(h, other), 1)
    })

    test('when creates arrive while another transaction of the same user is open, then they count once it commits', async () => {
      const user = await signUp(h)
      let creates: Promise<Array<{ statusCode: number }>> | undefined
      await h.db.transaction(async (tx) => {
        await tx.query(
          `insert into entries (user_id, text, mood, category) select $1, 'batch ' || n, 5, 'batch' from generate_series(1, 5) n`,
          [user.id],
        )
        creates = Promise.all(
          Array.from({ length: 3 }, (_, i) =>
            h.request({
              method: 'POST',
              url: '/entries',
              headers: user.auth,
              payload: { text: `meanwhile ${i}`, mood: 5, category: 'misc' },
            }),
          ),
        )
        if (h.backend === 'postgres') {
          // On a server the creates queue on the user's row of entry_counts, locked by this transaction until it commits.
          await until(async () => {
            const waiting = await h.db.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
            )
            return waiting[0]!.n === 3
          }, 'three creates waiting for the lock')
        }
      })
      assert.deepEqual(
        (await creates!).map((res) => res.statusCode),
        [201, 201, 201],
      )
      assert.equal(await total(h, user), 8)
    })

    test('when an account is deleted, then its count goes with it', async () => {
      const gone = await signUp(h)
      const kept = await signUp(h)
      for (const user of [gone, kept]) await createEntry(h, user, { text: 'one', mood: 5, category: 'misc' })
      assert.equal(await keptRow(h, gone.id), 1)

      const deleted = await h.request({ method: 'DELETE', url: '/me', headers: gone.auth, payload: { password: gone.password } })
      assert.equal(deleted.statusCode, 204, deleted.body)
      assert.equal(await keptRow(h, gone.id), undefined)
      assert.equal(await total(h, kept), 1)
    })

    test('when counts drifted before migration 007, then it counts them again from the rows', async () => {
      const user = await signUp(h)
      const other = await signUp(h)
      for (const text of ['a', 'b', 'c']) await createEntry(h, user, { text, mood: 5, category: 'misc' })
      await createEntry(h, other, { text: 'theirs', mood: 5, category: 'misc' })
      await migrate(h.db, BEFORE_007)
      try {
        // What a TRUNCATE or triggers turned off could leave: a wrong total and a missing row.
        await h.db.query('update entry_counts set total = 99 where user_id = $1', [user.id])
        await h.db.query('delete from entry_counts where user_id = $1', [other.id])
        assert.equal(await total(h, user), 99)
      } finally {
        await migrate(h.db)
      }
      assert.equal(await total(h, user), 3)
      assert.equal(await total(h, other), 1)
    })

    // Last: it empties the table for every user of this file.
    test('when the entries table is truncated, then every total is 0 and counting starts again', async () => {
      const user = await signUp(h)
      await createEntry(h, user, { text: 'soon gone', mood: 5, category: 'misc' })
      await h.db.query('truncate entries cascade')
      assert.equal(await total(h, user), 0)
      await createEntry(h, user, { text: 'after', mood: 5, category: 'misc' })
      assert.equal(await total(h, user), 1)
    })
  },
  // Writes made straight in SQL here do not retire cached pages; reads must see them at once.
  { env: { CACHE: 'off' } },
)
