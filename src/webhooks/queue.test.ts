import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachBackend } from '../../test/support/harness.js'
import { signUp } from '../../test/support/users.js'
import { eventBody } from './events.js'
import * as q from './queries.js'
import { tableQueue } from './queue.js'

describeEachBackend('webhook delivery queue', (h) => {
  const at = (iso: string) => new Date(iso)
  // Deliveries are queued at the real time of the test: a clock from 2030 on finds them due.
  const setup = async (endpoints: number) => {
    const user = await signUp(h)
    const ids: number[] = []
    for (let i = 0; i < endpoints; i++) {
      const row = await q.insertEndpoint(
        h.db,
        user.id,
        { url: `https://e${i}.example.test/`, description: '', events: ['entry.created'], secret: 's' },
        10,
      )
      ids.push(row!.id)
    }
    return { user, ids }
  }
  const enqueue = async (userId: number, n: number) => {
    for (let i = 0; i < n; i++)
      await q.enqueue(h.db, userId, { id: crypto.randomUUID(), type: 'entry.created', body: eventBody('entry.created', { n: i }) })
  }

  test('when deliveries are leased, then each endpoint gives one at a time and a leased row is not handed out again until its lease expires', async () => {
    const queue = tableQueue(h.db)
    const { user, ids } = await setup(2)
    await enqueue(user.id, 3)
    const now = at('2030-01-01T00:00:00Z')
    const leaseUntil = at('2030-01-01T00:01:00Z')
    const first = (await queue.lease(now, leaseUntil, 10, [])).filter((l) => l.userId === user.id)
    assert.deepEqual(first.map((l) => l.endpointId).sort(), [...ids].sort())
    assert.ok(first.every((l) => l.attemptCount === 1))

    // The next delivery of each endpoint is leased beside the first (across workers); `busy` keeps a worker to one per endpoint.
    const busy = (await queue.lease(now, leaseUntil, 10, ids)).filter((l) => l.userId === user.id)
    assert.deepEqual(busy, [])
    const second = (await queue.lease(now, leaseUntil, 10, [])).filter((l) => l.userId === user.id)
    assert.equal(second.length, 2)
    assert.ok(second.every((l) => !first.some((f) => f.id === l.id)))

    // An expired lease is due again, and the old holder can no longer record an outcome.
    const later = at('2030-01-01T00:02:00Z')
    const again = []
    for (let round = 0; round < 3; round++) {
      again.push(...(await queue.lease(later, at('2030-01-01T00:03:00Z'), 10, [])).filter((l) => l.userId === user.id))
    }
    assert.equal(again.length, 6, 'the third deliveries and both expired pairs')
    const retaken = again.find((l) => l.id === first[0]!.id)
    assert.ok(retaken, 'the expired lease is taken again')
    assert.equal(retaken.attemptCount, 2)
    const attempt = { at: later.toISOString(), durationMs: 1, statusCode: 200, error: null, response: null }
    assert.equal(await queue.finish(first[0]!, attempt, { status: 'succeeded', at: later }), false)
    assert.equal(await queue.finish(retaken, attempt, { status: 'succeeded', at: later }), true)
  })

  test('when an endpoint is disabled or paused, then its deliveries are not leased', async () => {
    const queue = tableQueue(h.db)
    const { user, ids } = await setup(2)
    await enqueue(user.id, 1)
    const now = at('2031-01-01T00:00:00Z')
    await q.disableEndpoint(h.db, user.id, ids[0]!, 'test')
    await q.pauseEndpoint(h.db, user.id, ids[1]!, at('2031-01-01T00:10:00Z'))
    assert.deepEqual(
      (await queue.lease(now, at('2031-01-01T00:01:00Z'), 10, [])).filter((l) => l.userId === user.id),
      [],
    )
    const resumed = (await queue.lease(at('2031-01-01T00:10:00Z'), at('2031-01-01T00:11:00Z'), 10, [])).filter((l) => l.userId === user.id)
    assert.deepEqual(
      resumed.map((l) => l.endpointId),
      [ids[1]],
    )
  })
})
