import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Queryable } from '../db/index.js'
import { describeEachBackend } from '../../test/support/harness.js'
import { createEntry } from '../../test/support/entries.js'
import { signUp } from '../../test/support/users.js'

/**
 * Every column that can hold a user's id: columns named user_id, and every column of a foreign
 * key to users. Read from information_schema, so a table added later is covered without editing
 * this test.
 */
async function userColumns(db: Queryable): Promise<Array<{ table: string; column: string }>> {
  return db.query<{ table: string; column: string }>(
    `select distinct c.table_name as "table", c.column_name as "column"
       from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      where c.table_schema = 'public' and t.table_type = 'BASE TABLE' and c.column_name = 'user_id'
     union
     select kcu.table_name, kcu.column_name
       from information_schema.referential_constraints rc
       join information_schema.key_column_usage kcu
         on kcu.constraint_schema = rc.constraint_schema and kcu.constraint_name = rc.constraint_name
       join information_schema.constraint_column_usage ccu
         on ccu.constraint_schema = rc.unique_constraint_schema and ccu.constraint_name = rc.unique_constraint_name
      where kcu.table_schema = 'public' and ccu.table_name = 'users'
      order by 1, 2`,
  )
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`

describeEachBackend('DELETE /me leaves nothing behind', (h) => {
  test('when an account is deleted, then no row of any table refers to it, and another account keeps its rows', async () => {
    const gone = await signUp(h)
    const kept = await signUp(h)
    for (const user of [gone, kept]) {
      await createEntry(h, user, { text: 'something', mood: 6, category: 'work' })
      await h.request({
        method: 'POST',
        url: '/import',
        headers: { ...user.auth, 'content-type': 'application/x-ndjson' },
        payload: '{"text":"imported","mood":4,"category":"home"}',
      })
      await h.request({ method: 'GET', url: '/entries', headers: user.auth })
      await h.request({ method: 'GET', url: '/stats', headers: user.auth })
    }

    const columns = await userColumns(h.db)
    const tables = new Set(columns.map((c) => c.table))
    for (const expected of ['entries', 'sessions', 'refresh_tokens']) assert.ok(tables.has(expected), `${expected} is among ${[...tables]}`)

    const rowsOf = async (userId: number) => {
      const found: Record<string, number> = {}
      for (const { table, column } of columns) {
        const rows = await h.db.query<{ n: number }>(`select count(*)::int as n from ${quote(table)} where ${quote(column)} = $1`, [userId])
        if (rows[0]!.n > 0) found[`${table}.${column}`] = rows[0]!.n
      }
      const user = await h.db.query<{ n: number }>('select count(*)::int as n from users where id = $1', [userId])
      if (user[0]!.n > 0) found['users.id'] = user[0]!.n
      return found
    }
    assert.ok(Object.keys(await rowsOf(gone.id)).length >= 3, 'the account had rows to delete')

    const deleted = await h.request({ method: 'DELETE', url: '/me', headers: gone.auth, payload: { password: gone.password } })
    assert.equal(deleted.statusCode, 204, deleted.body)

    assert.deepEqual(await rowsOf(gone.id), {})
    const left = await rowsOf(kept.id)
    assert.equal(left['entries.user_id'], 2)
    assert.equal(left['users.id'], 1)
  })
})
