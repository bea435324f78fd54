import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { backendNames, createTestDatabase, type TestDatabase } from '../../test/support/harness.js'
import { sqlState } from './errors.js'

const SETTINGS = `select current_setting('transaction_isolation') as isolation,
                        current_setting('transaction_read_only') as "readOnly",
                        current_setting('lock_timeout') as "lockTimeout",
                        current_setting('statement_timeout') as "statementTimeout",
                        current_setting('timezone') as timezone`

for (const backend of backendNames()) {
  describe(`transaction options [${backend}]`, () => {
    let testDb: TestDatabase
    before(async () => {
      testDb = await createTestDatabase(backend)
    })
    after(() => testDb.drop())

    test('when a transaction is given options, then its statements run under them and the next transaction does not', async () => {
      const db = testDb.db
      const outside = (await db.query(SETTINGS))[0]
      const inside = await db.transaction((tx) => tx.query(SETTINGS), {
        isolation: 'repeatable read',
        readOnly: true,
        lockTimeoutMs: 1500,
        statementTimeoutMs: 2500,
        settings: { timezone: 'Asia/Tokyo' },
      })
      assert.deepEqual(inside[0], {
        isolation: 'repeatable read',
        readOnly: 'on',
        lockTimeout: '1500ms',
        statementTimeout: '2500ms',
        timezone: 'Asia/Tokyo',
      })
      assert.deepEqual(await db.transaction((tx) => tx.query(SETTINGS)), [outside], 'each setting ended with its transaction')
    })

    test('when a transaction is read only, then a write in it fails with 25006 and nothing is written', async () => {
      const db = testDb.db
      const write = db.transaction((tx) => tx.query("insert into users (email, password_hash) values ('ro@example.test', 'x')"), {
        readOnly: true,
      })
      await assert.rejects(write, (error) => sqlState(error) === '25006')
      assert.deepEqual(await db.query("select id from users where email = 'ro@example.test'"), [])
    })
  })
}
