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

describeEachBackend(
  'in-process cache memory',
  (h) => {
    const cachedBytes = async () => {
      const metrics = await h.request({ method: 'GET', url: '/metrics' })
      const line = /^moodlog_cache_memory_bytes (\d+)$/m.exec(metrics.body)
      assert.ok(line, 'the gauge is exported')
      return Number(line[1])
    }

    test('when many distinct large pages are read, then cached bytes stay under CACHE_MEMORY_MB; a write frees the writer’s pages', async () => {
      const user = await signUp(h)
      for (let i = 0; i < 40; i++)
        await createEntry(h, user, { text: `${'a long evening entry '.repeat(100)}${i}`, mood: 5, category: 'cache' })
      // 40 pages of about 40–170 KB each as cached (2 bytes a character): several times the 1 MiB budget.
      for (let limit = 11; limit <= 50; limit++) assert.equal((await listEntries(h, user, { limit })).statusCode, 200)
      const full = await cachedBytes()
      assert.ok(full <= 1024 * 1024, `${full} bytes cached`)
      assert.ok(full > 256 * 1024, `${full} bytes: the cache is in use`)

      const recent = h.app.cache.stats.hits
      await listEntries(h, user, { limit: 50 })
      assert.equal(h.app.cache.stats.hits, recent + 1, 'the most recent page is still cached')

      await createEntry(h, user, { text: 'one more', mood: 6, category: 'cache' })
      assert.ok((await cachedBytes()) < 1024, 'the superseded pages are gone at once, not left to age out')
    })

    test('when an entry is written, then the next /stats is computed afresh', async () => {
      const user = await signUp(h)
      await createEntry(h, user, { text: 'low', mood: 2, category: 'cache' })
      const first = await h.request({ method: 'GET', url: '/stats', headers: user.auth })
      assert.equal(first.json().overall.count, 1, first.body)
      const hits = h.app.cache.stats.hits
      assert.equal((await h.request({ method: 'GET', url: '/stats', headers: user.auth })).body, first.body)
      assert.equal(h.app.cache.stats.hits, hits + 1, 'the second read is cached')
      await createEntry(h, user, { text: 'high', mood: 8, category: 'cache' })
      const second = await h.request({ method: 'GET', url: '/stats', headers: user.auth })
      assert.equal(second.json().overall.count, 2)
      assert.equal(second.json().overall.average, 5)
    })
  },
  { env: { CACHE_MEMORY_MB: '1' } },
)
