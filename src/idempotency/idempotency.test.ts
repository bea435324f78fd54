import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { describeEachBackend } from '../../test/support/harness.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

describeEachBackend('idempotent entry creation', (h) => {
  const post = (user: SignedIn, key: string, payload: object) =>
    h.request({ method: 'POST', url: '/entries', headers: { ...user.auth, 'idempotency-key': key }, payload })
  const rowsOf = async (user: SignedIn) =>
    (await h.db.query<{ n: number }>('select count(*)::int as n from entries where user_id = $1', [user.id]))[0]!.n
  const response = (res: { statusCode: number; headers: Record<string, unknown>; json(): any }) => ({
    status: res.statusCode,
    location: res.headers.location,
    etag: res.headers.etag,
    body: res.json(),
  })

  test('when ten POSTs with one Idempotency-Key arrive together, then one entry exists and all ten get the same response', async () => {
    const user = await signUp(h)
    const key = randomUUID()
    const payload = { text: 'sent ten times by a flaky client', mood: 6, category: 'retries' }
    const results = await Promise.all(Array.from({ length: 10 }, () => post(user, key, payload)))
    for (const res of results) assert.equal(res.statusCode, 201, res.body)
    const first = response(results[0]!)
    for (const res of results) assert.deepEqual(response(res), first)
    assert.equal(first.location, `/entries/${first.body.id}`)
    assert.equal(await rowsOf(user), 1)
    assert.equal(results.filter((res) => res.headers['idempotent-replayed'] === 'true').length, 9)

    // A later retry still gets the original response, even after the entry has changed.
    await h.request({ method: 'PATCH', url: `/entries/${first.body.id}`, headers: user.auth, payload: { mood: 1 } })
    const later = await post(user, key, { category: 'retries', mood: 6, text: 'sent ten times by a flaky client' })
    assert.deepEqual(response(later), first, 'key order in the body does not matter')
    assert.equal(await rowsOf(user), 1)
  })

  test('when a key is reused with a different body, then 422 and nothing is created; other users and keys are independent', async () => {
    const user = await signUp(h)
    const other = await signUp(h)
    const key = 'order-2024-0001'
    assert.equal((await post(user, key, { text: 'original', mood: 5, category: 'misc' })).statusCode, 201)
    const reused = await post(user, key, { text: 'something else', mood: 5, category: 'misc' })
    assert.equal(reused.statusCode, 422)
    assert.equal(reused.json().type, '/problems/idempotency-key-reused')
    assert.equal(await rowsOf(user), 1)

    const theirs = await post(other, key, { text: 'something else', mood: 5, category: 'misc' })
    assert.equal(theirs.statusCode, 201, 'keys are per user')
    assert.equal(theirs.json().text, 'something else')
    assert.equal((await post(user, 'order-2024-0002', { text: 'original', mood: 5, category: 'misc' })).statusCode, 201)
    assert.equal(await rowsOf(user), 2)
  })

  test('when a request with a key fails validation, then the key is not used up', async () => {
    const user = await signUp(h)
    const key = randomUUID()
    assert.equal((await post(user, key, { text: 'bad\u0000', mood: 5, category: 'misc' })).statusCode, 400)
    assert.equal((await post(user, key, { text: 'good', mood: 5, category: 'misc' })).statusCode, 201)
    assert.equal(await rowsOf(user), 1)
  })

  test('when a key is older than 24 hours, then it starts afresh and expired keys are cleaned up', async () => {
    const user = await signUp(h)
    const first = await post(user, 'old-key', { text: 'day one', mood: 5, category: 'misc' })
    await post(user, 'another-old-key', { text: 'day one, again', mood: 5, category: 'misc' })
    await h.db.query(`update idempotency_keys set created_at = now() - interval '25 hours' where user_id = $1`, [user.id])
    const again = await post(user, 'old-key', { text: 'day two, different body', mood: 7, category: 'misc' })
    assert.equal(again.statusCode, 201)
    assert.notEqual(again.json().id, first.json().id)
    const keys = await h.db.query<{ key: string }>('select key from idempotency_keys where user_id = $1', [user.id])
    assert.deepEqual(
      keys.map((k) => k.key),
      ['old-key'],
      'the other expired key was deleted',
    )
  })

  test('when the Idempotency-Key header is malformed, then 400 names it', async () => {
    const user = await signUp(h)
    for (const key of ['has space', 'x'.repeat(256), 'tab\tkey', 'ключ']) {
      const res = await post(user, key, { text: 'x', mood: 5, category: 'misc' })
      assert.equal(res.statusCode, 400, key)
      assert.equal(res.json().errors[0].field, 'headers.idempotency-key')
    }
    assert.equal(await rowsOf(user), 0)
  })

  // Server only: PGlite runs one transaction at a time, so a second request can only start after
  // the first has finished and "still running" cannot happen there.
  if (h.backend === 'postgres')
    test('when the first request with a key is still running, then a retry gets 409 and may succeed once it is done', async () => {
      const user = await signUp(h)
      const key = randomUUID()
      const payload = { text: 'slow first attempt', mood: 5, category: 'misc' }
      // Stand in for a first request that has claimed the key and not yet finished.
      let claimed!: () => void
      let finish!: () => void
      const isClaimed = new Promise<void>((resolve) => (claimed = resolve))
      const finished = new Promise<void>((resolve) => (finish = resolve))
      const inFlight = h.db
        .transaction(async (tx) => {
          await tx.query(`insert into idempotency_keys (user_id, key, request_hash) values ($1, $2, repeat('0', 64))`, [user.id, key])
          claimed()
          await finished
          throw new Error('roll back, as a failed first request would')
        })
        .catch(() => {})
      await isClaimed
      const started = Date.now()
      const retry = await post(user, key, payload)
      finish()
      await inFlight
      assert.equal(retry.statusCode, 409, retry.body)
      assert.equal(retry.json().type, '/problems/idempotency-key-in-use')
      assert.ok(Number(retry.headers['retry-after']) >= 1)
      assert.ok(Date.now() - started < 8000, 'answered after a bounded wait')
      const after = await post(user, key, payload)
      assert.equal(after.statusCode, 201, 'the failed first attempt left the key free')
      assert.equal(await rowsOf(user), 1)
    })
})
