import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEntry, listEntries } from './support/entries.js'
import { describeEachBackend } from './support/harness.js'
import { signUp } from './support/users.js'

describeEachBackend('per-user cache (in-process store)', (h) => {
  test('when the same page is read twice, then the second read is a hit; after a write, the next read is fresh', async () => {
    const user = await signUp(h)
    await createEntry(h, user, { text: 'first', mood: 5, category: 'cache' })
    const stats = h.app.cache.stats

    const misses = stats.misses
    const first = await listEntries(h, user, { limit: 10 })
    assert.equal(first.json().total, 1)
    assert.ok(stats.misses > misses, 'the first read computes')

    const { hits, misses: missesBefore } = stats
    const again = await listEntries(h, user, { limit: 10 })
    assert.equal(again.body, first.body, 'the same body, byte for byte')
    assert.equal(again.headers['content-type'], first.headers['content-type'])
    assert.equal(stats.hits, hits + 1, 'the whole response comes from the cache')
    assert.equal(stats.misses, missesBefore)

    await createEntry(h, user, { text: 'second', mood: 7, category: 'cache' })
    const fresh = await listEntries(h, user, { limit: 10 })
    assert.equal(fresh.json().total, 2)
    assert.deepEqual(
      fresh.json().items.map((e: { text: string }) => e.text),
      ['second', 'first'],
    )
  })

  test('when a listing is walked page by page, then each page is computed but the total is counted once', async () => {
    const user = await signUp(h)
    for (const mood of [3, 4, 5]) await createEntry(h, user, { text: `walk ${mood}`, mood, category: 'cache' })
    const stats = h.app.cache.stats
    const first = (await listEntries(h, user, { limit: 2 })).json()
    const { hits, misses } = stats
    const second = (await listEntries(h, user, { limit: 2, cursor: first.nextCursor })).json()
    assert.equal(second.total, 3)
    assert.equal(second.items.length, 1)
    assert.equal(stats.misses, misses + 1, 'the new page is computed')
    assert.equal(stats.hits, hits + 1, 'the count is reused')
  })

  test("when one user writes, then another user's cached pages stay cached", async () => {
    const alice = await signUp(h)
    const bob = await signUp(h)
    await createEntry(h, bob, { text: 'bob', mood: 4, category: 'cache' })
    await listEntries(h, bob, { limit: 10 })
    await createEntry(h, alice, { text: 'alice', mood: 6, category: 'cache' })
    const hits = h.app.cache.stats.hits
    assert.equal((await listEntries(h, bob, { limit: 10 })).json().total, 1)
    assert.ok(h.app.cache.stats.hits > hits)
  })
})

describeEachBackend(
  'cache turned off',
  (h) => {
    test('when CACHE=off, then every read goes to the database', async () => {
      const user = await signUp(h)
      await createEntry(h, user, { text: 'only', mood: 5, category: 'cache' })
      await listEntries(h, user, {})
      await listEntries(h, user, {})
      assert.deepEqual(h.app.cache.stats, { hits: 0, misses: 0 })
    })
  },
  { env: { CACHE: 'off' } },
)
