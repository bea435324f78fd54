import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyPluginAsync } from 'fastify'
import { describeEachBackend } from './support/harness.js'

/** A promise the test resolves by hand. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { open, opened }
}

/** Each stalled route waits on the gate the test sets, and reports when its database work has ended. */
const stall = { gate: gate(), finished: Promise.resolve() as Promise<unknown> }

const stalledWrites: FastifyPluginAsync = async (app) => {
  const run = async (work: () => Promise<unknown>) => {
    const done = work()
    stall.finished = done.catch(() => {})
    await done
    return { ok: true }
  }
  // A transaction that wrote, then stalls before its commit.
  app.post('/test/stalled-transaction', () =>
    run(() =>
      app.db.transaction(async (tx) => {
        await tx.query("insert into deadline_probe (note) values ('transaction')")
        await stall.gate.opened
      }),
    ),
  )
  // A statement outside a transaction that only starts after the stall.
  app.post('/test/late-statement', () =>
    run(async () => {
      await stall.gate.opened
      await app.db.query("insert into deadline_probe (note) values ('late')")
    }),
  )
  // A statement outside a transaction that the database itself holds up (a lock).
  app.post('/test/blocked-statement', () => run(() => app.db.query("insert into deadline_probe (note) values ('blocked')")))
}

describeEachBackend(
  'a request given up at its deadline',
  (h) => {
    const notes = async () => (await h.db.query<{ note: string }>('select note from deadline_probe order by note')).map((r) => r.note)

    test('when a write stalls past the request timeout, then it is answered 503 and nothing of it is saved', async () => {
      await h.db.query('create table deadline_probe (note text)')
      for (const url of ['/test/stalled-transaction', '/test/late-statement']) {
        stall.gate = gate()
        const res = await h.request({ method: 'POST', url })
        assert.equal(res.statusCode, 503, url)
        assert.equal(res.json().type, '/problems/request-timeout', url)
        assert.match(res.json().detail, /nothing of it was saved/)
        // Only now may the handler go on: it must not commit after its answer.
        stall.gate.open()
        await stall.finished
        assert.deepEqual(await notes(), [], `${url} saved nothing`)
      }
    })

    if (h.backend === 'postgres') {
      test('when a statement is held up by the database past the timeout, then it is cancelled and never applied', async () => {
        const release = gate()
        let locked!: () => void
        const lockTaken = new Promise<void>((resolve) => (locked = resolve))
        const holder = h.db.transaction(async (tx) => {
          await tx.query('lock table deadline_probe in access exclusive mode')
          locked()
          await release.opened
        })
        await lockTaken
        const res = await h.request({ method: 'POST', url: '/test/blocked-statement' })
        release.open()
        await holder
        await stall.finished
        assert.equal(res.statusCode, 503)
        assert.equal(res.json().type, '/problems/request-timeout')
        assert.deepEqual(await notes(), [], 'the insert waiting for the lock was cancelled, not applied once the lock went')
      })
    }

    test('when a write finishes in time, then it is saved as usual', async () => {
      stall.gate = gate()
      stall.gate.open()
      const res = await h.request({ method: 'POST', url: '/test/stalled-transaction' })
      assert.equal(res.statusCode, 200)
      assert.deepEqual(await notes(), ['transaction'])
    })
  },
  { env: { REQUEST_TIMEOUT_SECONDS: '1' }, plugins: [stalledWrites] },
)
