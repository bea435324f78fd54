import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { describeEachBackend } from '../../test/support/harness.js'
import { createEntry } from '../../test/support/entries.js'
import { signUp } from '../../test/support/users.js'
import * as q from './queries.js'

interface QueuedRow {
  endpointId: number
  eventId: string
  eventType: string
  body: string
  status: string
}

describeEachBackend('webhook events recorded with the entry change', (h) => {
  const queued = (userId: number) =>
    h.db.query<QueuedRow>(
      `select endpoint_id as "endpointId", event_id as "eventId", event_type as "eventType", body, status
         from webhook_deliveries where user_id = $1 order by id`,
      [userId],
    )
  const endpoint = (userId: number, events: string[]) =>
    q.insertEndpoint(h.db, userId, { url: 'https://hooks.example.test/in', description: '', events, secret: 'whsec_dGVzdA==' }, 10)

  before(async () => {
    // Test-only failures injected in the database, so the real service code path is the one exercised:
    // one at COMMIT of an entry write (a deferred constraint trigger), one while the event is written.
    await h.db.transaction((tx) =>
      tx.exec(`
        create function test_refuse() returns trigger language plpgsql as $$
        begin raise exception 'refused by test trigger'; end $$;
        create constraint trigger test_refuse_at_commit after insert or update on entries
          deferrable initially deferred for each row when (new.text = 'roll back at commit') execute function test_refuse();
        create trigger test_refuse_event before insert on webhook_deliveries
          for each row when (new.body like '%refuse this event%') execute function test_refuse();`),
    )
  })

  test('when a subscribed user creates, changes and deletes an entry, then one pending delivery per change carries it', async () => {
    const user = await signUp(h)
    const all = await endpoint(user.id, ['entry.created', 'entry.updated', 'entry.deleted'])
    const createdOnly = await endpoint(user.id, ['entry.created'])
    const entry = await createEntry(h, user, { text: 'hello', mood: 7, category: 'work' })
    const patched = await h.request({ method: 'PATCH', url: `/entries/${entry.id}`, headers: user.auth, payload: { mood: 8 } })
    assert.equal(patched.statusCode, 200)
    const deleted = await h.request({ method: 'DELETE', url: `/entries/${entry.id}`, headers: user.auth })
    assert.equal(deleted.statusCode, 204)

    const rows = await queued(user.id)
    assert.deepEqual(
      rows.map((r) => [r.endpointId, r.eventType, r.status]),
      [
        [all!.id, 'entry.created', 'pending'],
        [createdOnly!.id, 'entry.created', 'pending'],
        [all!.id, 'entry.updated', 'pending'],
        [all!.id, 'entry.deleted', 'pending'],
      ],
    )
    // Both endpoints receive the same event (one id), each as its own delivery.
    assert.equal(rows[0]!.eventId, rows[1]!.eventId)
    assert.notEqual(rows[0]!.eventId, rows[2]!.eventId)
    const bodies = rows.map((r) => JSON.parse(r.body))
    assert.deepEqual(bodies[0].data, entry)
    assert.equal(bodies[0].type, 'entry.created')
    assert.ok(!Number.isNaN(Date.parse(bodies[0].timestamp)))
    assert.deepEqual(bodies[2].data, patched.json())
    assert.deepEqual(bodies[3], { type: 'entry.deleted', timestamp: bodies[3].timestamp, data: { id: entry.id } })
  })

  test('when an entry is created, then its event body is byte for byte what JSON.stringify writes, stamped with the write', async () => {
    const user = await signUp(h)
    await endpoint(user.id, ['entry.created'])
    const text = 'quote " backslash \\ tab \t newline \n nul-free \u0001\u001f line sep \u2028\u2029 astral 😀 é'
    const entry = await createEntry(h, user, { text, mood: 10, category: 'Ünïcode' })
    const idempotent = await h.request({
      method: 'POST',
      url: '/entries',
      headers: { ...user.auth, 'idempotency-key': 'bytes-1' },
      payload: { text, mood: 1, category: 'x', occurredAt: '1900-01-01T00:00:00.000Z' },
    })
    assert.equal(idempotent.statusCode, 201)
    const rows = await queued(user.id)
    assert.equal(rows.length, 2)
    for (const [row, data] of [
      [rows[0]!, entry],
      [rows[1]!, idempotent.json()],
    ] as const) {
      assert.equal(row.body, JSON.stringify({ type: 'entry.created', timestamp: data.createdAt, data }))
    }
  })

  test('when an idempotent create is replayed, then only the first request queued an event', async () => {
    const user = await signUp(h)
    await endpoint(user.id, ['entry.created'])
    const headers = { ...user.auth, 'idempotency-key': 'k-1' }
    const payload = { text: 'once', mood: 5, category: 'home' }
    for (let i = 0; i < 2; i++) {
      const res = await h.request({ method: 'POST', url: '/entries', headers, payload })
      assert.equal(res.statusCode, 201)
    }
    assert.equal((await queued(user.id)).length, 1)
  })

  test('when the user has no endpoint, or only a disabled one, then a write queues nothing', async () => {
    const user = await signUp(h)
    await createEntry(h, user, { text: 'nobody listens', mood: 4, category: 'x' })
    const off = await endpoint(user.id, ['entry.created'])
    await q.updateEndpoint(h.db, user.id, off!.id, { enabled: false })
    await createEntry(h, user, { text: 'still nobody', mood: 4, category: 'x' })
    assert.deepEqual(await queued(user.id), [])
  })

  test('when an entry write rolls back at commit, then neither the entry nor its event exists', async () => {
    const user = await signUp(h)
    await endpoint(user.id, ['entry.created', 'entry.updated'])
    const created = await h.request({
      method: 'POST',
      url: '/entries',
      headers: user.auth,
      payload: { text: 'roll back at commit', mood: 3, category: 'x' },
    })
    assert.equal(created.statusCode, 500)
    const kept = await createEntry(h, user, { text: 'kept', mood: 3, category: 'x' })
    const patched = await h.request({
      method: 'PATCH',
      url: `/entries/${kept.id}`,
      headers: user.auth,
      payload: { text: 'roll back at commit' },
    })
    assert.equal(patched.statusCode, 500)

    const listed = await h.request({ method: 'GET', url: '/entries', headers: user.auth })
    assert.deepEqual(
      listed.json().items.map((e: { text: string }) => e.text),
      ['kept'],
    )
    assert.deepEqual(
      (await queued(user.id)).map((r) => [r.eventType, JSON.parse(r.body).data.text]),
      [['entry.created', 'kept']],
    )
  })

  test('when writing the event fails, then the entry is not created either', async () => {
    const user = await signUp(h)
    await endpoint(user.id, ['entry.created'])
    const res = await h.request({
      method: 'POST',
      url: '/entries',
      headers: user.auth,
      payload: { text: 'refuse this event', mood: 3, category: 'x' },
    })
    assert.equal(res.statusCode, 500)
    const listed = await h.request({ method: 'GET', url: '/entries', headers: user.auth })
    assert.equal(listed.json().total, 0)
    assert.deepEqual(await queued(user.id), [])
  })
})
