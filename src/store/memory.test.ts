import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createMemoryStore } from './memory.js'

const KB = 1024
const page = (size: number, fill = 'x') => fill.repeat(size)
const minute = 60_000

describe('in-process store', () => {
  test('when far more pages are cached than the budget holds, then the bytes stay under it and the newest pages are kept', async () => {
    const store = createMemoryStore({ maxPageBytes: 256 * KB })
    for (let i = 0; i < 2_000; i++) await store.set(`cache:${i % 50}:g:entries:${i}`, page(4 * KB), minute)

    assert.ok(store.pageBytes() <= 256 * KB, `${store.pageBytes()} bytes`)
    assert.ok(store.pageBytes() > 128 * KB, 'the budget is used, not left empty')
    assert.equal(await store.get('cache:49:g:entries:1999'), page(4 * KB))
    assert.equal(await store.get('cache:0:g:entries:0'), undefined)
  })

  test('when pages flood the cache, then session states and generations are still there', async () => {
    const store = createMemoryStore({ maxPageBytes: 64 * KB })
    await store.set('session:abc', 'revoked', minute)
    await store.set('gen:7', 'generation-one', minute)
    for (let i = 0; i < 1_000; i++) await store.set(`cache:7:generation-one:list:${i}`, page(2 * KB), minute)

    assert.equal(await store.get('session:abc'), 'revoked')
    assert.equal(await store.get('gen:7'), 'generation-one')
  })

  test("when one user's pages are dropped, then only that user's pages go and their bytes are free", async () => {
    const store = createMemoryStore({ maxPageBytes: 1024 * KB })
    for (let i = 0; i < 20; i++) {
      await store.set(`cache:1:g1:list:${i}`, page(KB), minute)
      await store.set(`cache:12:g2:list:${i}`, page(KB), minute)
    }
    await store.set('gen:1', 'g1', minute)
    const full = store.pageBytes()

    await store.deletePrefix('cache:1:')

    assert.equal(await store.get('cache:1:g1:list:3'), undefined)
    assert.equal(await store.get('cache:12:g2:list:3'), page(KB), 'user 12 is not user 1')
    assert.equal(await store.get('gen:1'), 'g1', 'not a page')
    assert.ok(store.pageBytes() < full * 0.55, `${store.pageBytes()} of ${full} bytes left`)

    await store.deletePrefix('gen:')
    assert.equal(await store.get('gen:1'), undefined)
  })

  test('when one page is larger than the whole budget, then it is not kept and the others stay', async () => {
    const store = createMemoryStore({ maxPageBytes: 16 * KB })
    await store.set('cache:1:g:list:small', page(KB), minute)
    await store.set('cache:1:g:list:huge', page(64 * KB), minute)

    assert.equal(await store.get('cache:1:g:list:huge'), undefined)
    assert.equal(await store.get('cache:1:g:list:small'), page(KB))
    await store.deletePrefix('cache:1:')
    assert.equal(store.pageBytes(), 0)
  })

  test('when a page is stored again under its key, then it counts once and is still dropped with its user', async () => {
    const store = createMemoryStore({ maxPageBytes: 64 * KB })
    await store.set('cache:3:g:list:a', page(KB, 'a'), minute)
    await store.set('cache:3:g:list:a', page(KB, 'b'), minute)
    assert.equal(await store.get('cache:3:g:list:a'), page(KB, 'b'))
    assert.ok(store.pageBytes() < 3 * KB, `${store.pageBytes()} bytes for one page`)

    await store.deletePrefix('cache:3:')
    assert.equal(await store.get('cache:3:g:list:a'), undefined)
  })

  test('when a TTL passes, then the entry is gone', async () => {
    let now = 1_000_000
    const store = createMemoryStore({ maxPageBytes: 64 * KB, now: () => now })
    await store.set('cache:1:g:list:a', 'page', 1_000)
    await store.set('session:s', 'revoked', 1_000)
    now += 999
    assert.equal(await store.get('session:s'), 'revoked')
    now += 2
    assert.equal(await store.get('cache:1:g:list:a'), undefined)
    assert.equal(await store.get('session:s'), undefined)
  })
})
