import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachBackend, type Harness } from '../../test/support/harness.js'
import { createEntry } from '../../test/support/entries.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

const categories = (h: Harness, user: SignedIn) => h.request({ method: 'GET', url: '/categories', headers: user.auth })

describeEachBackend('GET /categories', (h) => {
  test('when a user has entries, then each category is listed once with its count, most recently used first', async () => {
    const user = await signUp(h)
    await createEntry(h, user, { text: 'standup', mood: 6, category: 'Work', occurredAt: '2026-01-01T09:00:00Z' })
    await createEntry(h, user, { text: 'run', mood: 8, category: 'Health', occurredAt: '2026-02-01T07:00:00Z' })
    await createEntry(h, user, { text: 'review', mood: 5, category: 'work', occurredAt: '2026-03-01T15:30:00.123Z' })
    await createEntry(h, user, { text: 'nap', mood: 7, category: 'Sleep', occurredAt: '2026-04-01T13:00:00+02:00' })

    const res = await categories(h, user)
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(res.json(), {
      items: [
        { name: 'Sleep', count: 1, lastUsedAt: '2026-04-01T11:00:00.000Z' },
        // One category whatever the case, named as in its newest entry.
        { name: 'work', count: 2, lastUsedAt: '2026-03-01T15:30:00.123Z' },
        { name: 'Health', count: 1, lastUsedAt: '2026-02-01T07:00:00.000Z' },
      ],
    })
  })

  test('when another user has categories, then they are never shown', async () => {
    const me = await signUp(h)
    const other = await signUp(h)
    await createEntry(h, other, { text: 'private', mood: 2, category: 'Secret', occurredAt: '2026-05-01T00:00:00Z' })
    await createEntry(h, me, { text: 'mine', mood: 6, category: 'Family', occurredAt: '2026-01-01T00:00:00Z' })
    assert.deepEqual(
      (await categories(h, me)).json().items.map((c: any) => c.name),
      ['Family'],
    )
    assert.deepEqual(
      (await categories(h, other)).json().items.map((c: any) => c.name),
      ['Secret'],
    )
  })

  test('when a user has no entries yet, then the list is empty', async () => {
    const user = await signUp(h)
    assert.deepEqual((await categories(h, user)).json(), { items: [] })
  })

  test('when the user writes, edits or deletes, then the next answer shows it (no stale cache)', async () => {
    const user = await signUp(h)
    const old = await createEntry(h, user, { text: 'a', mood: 5, category: 'Reading', occurredAt: '2026-01-01T00:00:00Z' })
    await createEntry(h, user, { text: 'b', mood: 5, category: 'Music', occurredAt: '2026-02-01T00:00:00Z' })
    assert.deepEqual(
      (await categories(h, user)).json().items.map((c: any) => c.name),
      ['Music', 'Reading'],
    )
    await createEntry(h, user, { text: 'c', mood: 5, category: 'Reading', occurredAt: '2026-03-01T00:00:00Z' })
    assert.deepEqual(
      (await categories(h, user)).json().items.map((c: any) => [c.name, c.count]),
      [
        ['Reading', 2],
        ['Music', 1],
      ],
    )
    const patched = await h.request({ method: 'PATCH', url: `/entries/${old.id}`, headers: user.auth, payload: { category: 'Music' } })
    assert.equal(patched.statusCode, 200, patched.body)
    assert.deepEqual(
      (await categories(h, user)).json().items.map((c: any) => [c.name, c.count]),
      [
        ['Reading', 1],
        ['Music', 2],
      ],
    )
    assert.equal((await h.request({ method: 'DELETE', url: `/entries/${old.id}`, headers: user.auth })).statusCode, 204)
    assert.deepEqual(
      (await categories(h, user)).json().items.map((c: any) => [c.name, c.count]),
      [
        ['Reading', 1],
        ['Music', 1],
      ],
    )
  })

  test('when no valid token is sent, then it is 401', async () => {
    const res = await h.request({ method: 'GET', url: '/categories' })
    assert.equal(res.statusCode, 401)
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  })
})
