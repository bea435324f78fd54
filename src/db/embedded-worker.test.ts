import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Worker } from 'node:worker_threads'
import { preparedDataDir } from '../../test/support/data-dir.js'
import { openEmbeddedDatabase, openEmbeddedMemoryDatabase } from './embedded.js'
import { DatabaseUnavailableError, isUniqueViolation, sqlState } from './errors.js'
import type { Database } from './types.js'

/** This run's migrated dump when the runner made one; otherwise an empty database (a slow initdb). */
async function template(): Promise<Uint8Array | undefined> {
  const file = process.env.MOODLOG_TEST_PGLITE_TEMPLATE
  return file ? readFile(file) : undefined
}

const settledFlag = (promise: Promise<unknown>) => {
  const state = { settled: false }
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  )
  return state
}

describe('embedded database in a worker thread', () => {
  let db: Database
  before(async () => {
    db = await openEmbeddedMemoryDatabase(await template())
    await db.transaction((tx) =>
      tx.exec(`create table worker_probe (
        id int8 generated always as identity primary key,
        email text not null constraint worker_probe_email_key unique,
        photo bytea, at timestamptz, doc jsonb, amount numeric, tags int[], ok bool)`),
    )
  })
  after(() => db?.close())

  test('when a row goes in and comes back, then each value keeps the type PGlite gives it', async () => {
    const at = new Date('2024-05-06T07:08:09.123Z')
    const [row] = await db.query<Record<string, unknown>>(
      `insert into worker_probe (email, photo, at, doc, amount, tags, ok)
       values ($1, $2, $3, $4, 1.50, $5, true) returning *`,
      ['types@example.com', Buffer.from([0, 1, 254, 255]), at, { mood: 7, words: ['calm'] }, [3, 4]],
    )
    assert.equal(typeof row!.id, 'number')
    assert.ok(row!.photo instanceof Uint8Array)
    assert.deepEqual([...(row!.photo as Uint8Array)], [0, 1, 254, 255])
    assert.ok(row!.at instanceof Date)
    assert.equal((row!.at as Date).toISOString(), at.toISOString())
    assert.deepEqual(row!.doc, { mood: 7, words: ['calm'] })
    assert.equal(row!.amount, '1.50')
    assert.deepEqual(row!.tags, [3, 4])
    assert.equal(row!.ok, true)
  })

  test('when a transaction is open, then a statement from outside waits until it commits', async () => {
    let outside: Promise<{ n: number }[]> | undefined
    let waitedInside = false
    await db.transaction(async (tx) => {
      await tx.query(`insert into worker_probe (email) values ('held@example.com')`)
      outside = db.query<{ n: number }>(`select count(*)::int as n from worker_probe where email = 'held@example.com'`)
      const state = settledFlag(outside)
      // A round trip of the transaction's own, sent after the outside statement: had that one
      // not been held back, PGlite would have answered it first.
      await tx.query('select 1')
      await tx.query('select 1')
      waitedInside = !state.settled
    })
    assert.ok(waitedInside, 'the outside statement ran while the transaction was open')
    // Run after the commit, it sees the row (read committed would hide an uncommitted one).
    assert.deepEqual(await outside, [{ n: 1 }])
  })

  test('when the transaction callback throws, then its writes are rolled back and the error is the one thrown', async () => {
    const thrown = new Error('changed my mind')
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query(`insert into worker_probe (email) values ('rolled@example.com')`)
        throw thrown
      }),
      (error) => error === thrown,
    )
    assert.deepEqual(await db.query(`select id from worker_probe where email = 'rolled@example.com'`), [])
  })

  test('when a unique constraint is violated, then the error carries its SQLSTATE, constraint and detail', async () => {
    await db.query(`insert into worker_probe (email) values ('twice@example.com')`)
    const error = await db.query(`insert into worker_probe (email) values ('twice@example.com')`).then(
      () => assert.fail('the second insert succeeded'),
      (error: unknown) => error,
    )
    assert.ok(error instanceof Error)
    assert.equal(sqlState(error), '23505')
    assert.ok(isUniqueViolation(error, 'worker_probe_email_key'))
    assert.equal((error as { severity?: string }).severity, 'ERROR')
    assert.match(String((error as { detail?: string }).detail), /twice@example\.com/)
    // The transaction of a failed statement is usable again afterwards: the connection was not lost.
    assert.deepEqual(await db.query('select 1 as one'), [{ one: 1 }])
  })
})

describe('a worker that dies', () => {
  test('when the worker thread ends, then every pending and later call is a DatabaseUnavailableError and the exit hook fires', async () => {
    let worker: Worker | undefined
    let fired: (error: unknown) => void = () => {}
    const hookFired = new Promise<unknown>((resolve) => (fired = resolve))
    const db = await openEmbeddedMemoryDatabase(await template(), {
      onWorkerStart: (started) => (worker = started),
      onWorkerExit: (error) => fired(error),
    })
    try {
      const blocked = { query: undefined as Promise<unknown> | undefined }
      const inTransaction = db.transaction(async (tx) => {
        await tx.query('select 1')
        // Queued behind this transaction, so still pending when the worker goes.
        blocked.query = db.query('select 2')
        await worker!.terminate()
        await tx.query('select 3')
      })
      await assert.rejects(inTransaction, DatabaseUnavailableError)
      await assert.rejects(blocked.query!, DatabaseUnavailableError)
      assert.ok((await hookFired) instanceof DatabaseUnavailableError)
      await assert.rejects(db.query('select 4'), DatabaseUnavailableError)
      await assert.rejects(db.ping(), DatabaseUnavailableError)
      assert.deepEqual(db.usage(), [{ pool: 'main', size: 1, inFlight: 0 }])
    } finally {
      await db.close()
    }
  })
})

/** Postgres's DBState for a clean shutdown (src/include/catalog/pg_control.h). */
const DB_SHUTDOWNED = 1

/** An LSN as Postgres prints it (`16/B374D848`) as the 64-bit number the control file holds. */
const lsn = (text: string) => {
  const [high, low] = text.split('/').map((part) => BigInt(`0x${part}`)) as [bigint, bigint]
  return (high << 32n) | low
}

describe('closing a data directory', () => {
  let dir: string
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-worker-'))))
  after(() => rm(dir, { recursive: true, force: true }))

  test('when the database is closed, then it checkpoints and shuts down, and a reopened one finds the data', async () => {
    await preparedDataDir(dir)
    const db = await openEmbeddedDatabase(dir)
    await db.query('create table kept (note text)')
    await db.query(`insert into kept values ('still here')`)
    const [position] = await db.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn')
    await db.close()

    // A reopened database would replay the WAL and checkpoint itself, hiding a close that wrote
    // nothing: the control file tells (ControlFileData: the state at byte 16, the last checkpoint at 32).
    const control = await readFile(path.join(dir, 'pgdata', 'global', 'pg_control'))
    assert.equal(control.readInt32LE(16), DB_SHUTDOWNED, 'the control file says the database was shut down')
    assert.ok(control.readBigUInt64LE(32) >= lsn(position!.lsn), 'the last checkpoint comes after the last write')

    const reopened = await openEmbeddedDatabase(dir)
    try {
      assert.deepEqual(await reopened.query('select note from kept'), [{ note: 'still here' }])
    } finally {
      await reopened.close()
    }
  })
})
