import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createMemoryStore } from '../store/memory.js'
import { UserCache } from './user-cache.js'

/** A load that finishes only when the test says so: concurrency without timing. */
function deferredLoad(value: string) {
  let calls = 0
  let release!: () => void
  let fail!: (error: Error) => void
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve
    fail = reject
  })
  return {
    load: async () => {
      calls += 1
      await gate
      return value
    },
    calls: () => calls,
    release: () => release(),
    fail: (error: Error) => fail(error),
  }
}

const cacheOf = () =>
  new UserCache(createMemoryStore({ maxPageBytes: 1024 * 1024 }), { enabled: true, ttlMs: 60_000, userExists: async () => true })

describe('per-user cache: concurrent misses', () => {
  test('when many requests miss the same page at once, then it is loaded once and every request gets it', async () => {
    const cache = cacheOf()
    const page = deferredLoad('{"items":[]}')
    const reads = Array.from({ length: 50 }, () => cache.rememberText(7, 'entries:page', { limit: 20 }, page.load))
    await new Promise((resolve) => setImmediate(resolve))
    page.release()
    assert.deepEqual(new Set(await Promise.all(reads)), new Set(['{"items":[]}']))
    assert.equal(page.calls(), 1)
    // Stored: the next read is a hit and loads nothing.
    const hits = cache.stats.hits
    assert.equal(await cache.rememberText(7, 'entries:page', { limit: 20 }, page.load), '{"items":[]}')
    assert.equal(cache.stats.hits, hits + 1)
    assert.equal(page.calls(), 1)
  })

  test('when a write lands while a page is loading, then later reads do not wait for the older load', async () => {
    const cache = cacheOf()
    const before = deferredLoad('before the write')
    const early = cache.rememberText(7, 'entries:page', {}, before.load)
    await new Promise((resolve) => setImmediate(resolve))
    await cache.invalidate(7)
    assert.equal(await cache.rememberText(7, 'entries:page', {}, async () => 'after the write'), 'after the write')
    before.release()
    assert.equal(await early, 'before the write')
  })

  test('when a shared load fails, then every waiting request gets the error and the next read loads again', async () => {
    const cache = cacheOf()
    const broken = deferredLoad('never')
    const reads = [1, 2, 3].map(() => cache.rememberText(7, 'entries:page', {}, broken.load))
    await new Promise((resolve) => setImmediate(resolve))
    broken.fail(new Error('database went away'))
    for (const read of reads) await assert.rejects(read, /database went away/)
    assert.equal(broken.calls(), 1)
    assert.equal(await cache.rememberText(7, 'entries:page', {}, async () => 'back'), 'back')
  })

  test('when different users or pages miss at once, then each loads its own', async () => {
    const cache = cacheOf()
    const loads: string[] = []
    const load = (what: string) => async () => {
      loads.push(what)
      return what
    }
    const got = await Promise.all([
      cache.rememberText(1, 'entries:page', { page: 1 }, load('u1 p1')),
      cache.rememberText(1, 'entries:page', { page: 2 }, load('u1 p2')),
      cache.rememberText(2, 'entries:page', { page: 1 }, load('u2 p1')),
    ])
    assert.deepEqual(got, ['u1 p1', 'u1 p2', 'u2 p1'])
    assert.deepEqual(loads.sort(), ['u1 p1', 'u1 p2', 'u2 p1'])
  })
})
