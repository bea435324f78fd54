import assert from 'node:assert/strict'
import { test } from 'node:test'
import { migrate } from '../db/index.js'
import { createEntry, listEntries } from '../../test/support/entries.js'
import { describeEachBackend } from '../../test/support/harness.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

/** The schema version just before migration 005 (whatever 004 holds). */
const BEFORE_005 = '4'

describeEachBackend(
  'stored entries',
  (h) => {
    const exactInstants = (user: SignedIn) =>
      h.db.query<{ text: string; occurredAt: string; createdAt: string; version: number }>(
        `select text,
                to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z" BC') as "occurredAt",
                to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z" BC') as "createdAt",
                version
           from entries where user_id = $1 order by id`,
        [user.id],
      )
    const storedTotal = async (userId: number) =>
      (await h.db.query<{ total: number }>('select total::int as total from entry_counts where user_id = $1', [userId]))[0]?.total
    const countedTotal = async (userId: number) =>
      (await h.db.query<{ n: number }>('select count(*)::int as n from entries where user_id = $1', [userId]))[0]!.n

    test('when rows outside 1900..9999 were stored before migration 005, then it clamps them, records each change, and reads work', async () => {
      await migrate(h.db, BEFORE_005)
      try {
        const user = await signUp(h)
        const insert = (text: string, occurredAt: string, createdAt = '2024-01-01 00:00:00+00') =>
          h.db.query(
            'insert into entries (user_id, text, mood, category, occurred_at, created_at) values ($1, $2, 5, $3, $4::text::timestamptz, $5::text::timestamptz)',
            [user.id, text, 'misc', occurredAt, createdAt],
          )
        await insert('fine', '2024-05-01 12:00:00.123456+00')
        await insert('one BC', '0001-12-31 23:00:00+00 BC')
        await insert('year 49', '0049-06-01 00:00:00+00')
        await insert('year 10000', '10000-01-01 00:59:59+00')
        await insert('endless', 'infinity', '-infinity')
        const before = await exactInstants(user)

        await migrate(h.db)

        assert.deepEqual(await exactInstants(user), [
          { text: 'fine', occurredAt: '2024-05-01T12:00:00.123456Z AD', createdAt: '2024-01-01T00:00:00.000000Z AD', version: 1 },
          { text: 'one BC', occurredAt: '1900-01-01T00:00:00.000000Z AD', createdAt: '2024-01-01T00:00:00.000000Z AD', version: 2 },
          { text: 'year 49', occurredAt: '1900-01-01T00:00:00.000000Z AD', createdAt: '2024-01-01T00:00:00.000000Z AD', version: 2 },
          { text: 'year 10000', occurredAt: '9999-12-31T23:59:59.999000Z AD', createdAt: '2024-01-01T00:00:00.000000Z AD', version: 2 },
          { text: 'endless', occurredAt: '9999-12-31T23:59:59.999000Z AD', createdAt: '1900-01-01T00:00:00.000000Z AD', version: 2 },
        ])
        const repairs = await h.db.query<{ text: string; field: string; old: string }>(
          `select e.text, r.field, r.old_value as old
             from entry_repairs r join entries e on e.user_id = r.user_id and e.id = r.entry_id
            where r.user_id = $1 order by e.id, r.field`,
          [user.id],
        )
        assert.deepEqual(repairs, [
          { text: 'one BC', field: 'occurredAt', old: '0001-12-31T23:00:00.000000Z BC' },
          { text: 'year 49', field: 'occurredAt', old: '0049-06-01T00:00:00.000000Z AD' },
          { text: 'year 10000', field: 'occurredAt', old: '10000-01-01T00:59:59.000000Z AD' },
          { text: 'endless', field: 'createdAt', old: '-infinity' },
          { text: 'endless', field: 'occurredAt', old: 'infinity' },
        ])

        const listed = await listEntries(h, user, { limit: 100 })
        assert.equal(listed.statusCode, 200, listed.body)
        assert.deepEqual(
          listed.json().items.map((item: { text: string; occurredAt: string }) => [item.text, item.occurredAt]),
          [
            ['endless', '9999-12-31T23:59:59.999Z'],
            ['year 10000', '9999-12-31T23:59:59.999Z'],
            ['fine', '2024-05-01T12:00:00.123Z'],
            ['year 49', '1900-01-01T00:00:00.000Z'],
            ['one BC', '1900-01-01T00:00:00.000Z'],
          ],
        )
        assert.equal(listed.json().total, 5, 'the count was taken from the rows already there')
        await assert.rejects(insert('again', '1899-12-31 23:59:59.999999+00'), (error: { code?: string }) => error.code === '23514')
        await assert.rejects(
          insert('again', '2024-01-01 00:00:00+00', '10000-01-01 00:00:00+00'),
          (e: { code?: string }) => e.code === '23514',
        )

        // Undone, the clamped instants are put back exactly as they were.
        await migrate(h.db, BEFORE_005)
        assert.deepEqual(
          (await exactInstants(user)).map(({ version: _v, ...instants }) => instants),
          before.map(({ version: _v, ...instants }) => instants),
        )
      } finally {
        await migrate(h.db)
      }
    })

    test('when entries are added and removed in any way, then the kept total equals a count and GET /entries reports it', async () => {
      const user = await signUp(h)
      const other = await signUp(h)
      assert.equal((await listEntries(h, user, {})).json().total, 0, 'no row yet: 0')

      const created = await Promise.all(
        Array.from({ length: 8 }, (_, i) => createEntry(h, user, { text: `parallel ${i}`, mood: 5, category: 'misc' })),
      )
      await createEntry(h, other, { text: 'theirs', mood: 5, category: 'misc' })
      const remove = await h.request({ method: 'DELETE', url: `/entries/${created[0]!.id}`, headers: user.auth })
      assert.equal(remove.statusCode, 204)
      assert.equal(await storedTotal(user.id), 7)

      // A bulk insert of many rows in one statement, as an import writes them, and a bulk delete.
      await h.db.query(
        `insert into entries (user_id, text, mood, category) select $1, 'bulk ' || n, 5, 'bulk' from generate_series(1, 50) n`,
        [user.id],
      )
      await h.db.query(`delete from entries where user_id = $1 and text like 'bulk 1%'`, [user.id])
      // A statement that fails leaves the count as it was.
      await assert.rejects(
        h.db.query(`insert into entries (user_id, text, mood, category) values ($1, 'a', 5, 'c'), ($1, 'b', 99, 'c')`, [user.id]),
      )
      // A transaction that rolls back too.
      await assert.rejects(
        h.db.transaction(async (tx) => {
          await tx.query(`insert into entries (user_id, text, mood, category) values ($1, 'rolled back', 5, 'c')`, [user.id])
          throw new Error('roll back')
        }),
      )
      const counted = await countedTotal(user.id)
      assert.equal(counted, 7 + 50 - 11)
      assert.equal(await storedTotal(user.id), counted)
      const page = (await listEntries(h, user, { limit: 5 })).json()
      assert.equal(page.total, counted)
      assert.equal((await listEntries(h, user, { category: 'bulk' })).json().total, 39, 'a filtered total is counted')
      assert.equal(await storedTotal(other.id), 1)

      await assert.rejects(
        h.db.query('update entries set user_id = $2 where user_id = $1', [user.id, other.id]),
        'an entry never changes owner',
      )
      await h.db.query('delete from users where id = $1', [other.id])
      assert.equal(await storedTotal(other.id), undefined, "a deleted user's count goes with them")
      assert.equal(await storedTotal(user.id), counted)
    })
  },
  // Writes made straight in SQL here do not retire cached pages; reads must see them at once.
  { env: { CACHE: 'off' } },
)
