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
    const first = (await queue.lease(now, leaseUntil, 10, [], 10)).filter((l) => l.userId === user.id)
    assert.deepEqual(first.map((l) => l.endpointId).sort(), [...ids].sort())
    assert.ok(first.every((l) => l.attemptCount === 1))

    // The next delivery of each endpoint is leased beside the first (across workers); `busy` keeps a worker to one per endpoint.
    const busy = (
      await queue.lease(
        now,
        leaseUntil,
        10,
        ids.map((endpointId) => ({ userId: user.id, endpointId })),
        10,
      )
    ).filter((l) => l.userId === user.id)
    assert.deepEqual(busy, [])
    const second = (await queue.lease(now, leaseUntil, 10, [], 10)).filter((l) => l.userId === user.id)
    assert.equal(second.length, 2)
    assert.ok(second.every((l) => !first.some((f) => f.id === l.id)))

    // An expired lease is due again, and the old holder can no longer record an outcome.
    const later = at('2030-01-01T00:02:00Z')
    const again = []
    for (let round = 0; round < 3; round++) {
      again.push(...(await queue.lease(later, at('2030-01-01T00:03:00Z'), 10, [], 10)).filter((l) => l.userId === user.id))
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
      (await queue.lease(now, at('2031-01-01T00:01:00Z'), 10, [], 10)).filter((l) => l.userId === user.id),
      [],
    )
    const resumed = (await queue.lease(at('2031-01-01T00:10:00Z'), at('2031-01-01T00:11:00Z'), 10, [], 10)).filter(
      (l) => l.userId === user.id,
    )
    assert.deepEqual(
      resumed.map((l) => l.endpointId),
      [ids[1]],
    )
  })
  test('when one user has many endpoints due and another has one, then they take turns and the one user never gets every slot', async () => {
    // Leases take whatever is due anywhere: only these two users' deliveries are left.
    await h.db.query('delete from webhook_endpoints')
    const queue = tableQueue(h.db)
    const many = await setup(3)
    await enqueue(many.user.id, 1)
    const one = await setup(1)
    await enqueue(one.user.id, 1)
    const now = at('2032-01-01T00:00:00Z')
    const until = at('2032-01-01T00:01:00Z')

    // Two slots: the first user's deliveries are older, yet the second user gets one of them.
    const two = await queue.lease(now, until, 2, [], 10)
    assert.deepEqual(two.map((l) => l.userId).sort(), [many.user.id, one.user.id].sort())

    // Ten slots, but the first user already has two in flight and may hold two: only the other user's.
    await h.db.query('update webhook_deliveries set lease_token = null, next_attempt_at = $1::text::timestamptz', [now.toISOString()])
    const busy = many.ids.slice(0, 2).map((endpointId) => ({ userId: many.user.id, endpointId }))
    const capped = await queue.lease(now, until, 10, busy, 2)
    assert.deepEqual(
      capped.map((l) => l.userId),
      [one.user.id],
    )
    // With room under the cap, the first user's third endpoint is leased too.
    const roomy = await queue.lease(now, until, 10, busy, 3)
    assert.deepEqual(
      roomy.map((l) => [l.userId, l.endpointId]),
      [[many.user.id, many.ids[2]]],
    )
  })
})
