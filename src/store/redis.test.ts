import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import { TcpProxy } from '../../test/support/tcp-proxy.js'
import { openRedisStore, type RedisStore } from './redis.js'

const redisUrl = process.env.TEST_REDIS_URL
const quiet = { warn() {}, info() {} } as unknown as FastifyBaseLogger
const minute = 60_000

describe('Redis store through an outage', { skip: redisUrl ? false : 'TEST_REDIS_URL is not set' }, () => {
  // This store reaches Redis through a proxy the tests cut; `other` (another instance) reaches it directly.
  const prefix = `moodlog-test:${randomUUID()}:`
  let proxy: TcpProxy
  let store: RedisStore
  let other: Redis

  before(async () => {
    const target = new URL(redisUrl!)
    proxy = new TcpProxy(target.hostname, Number(target.port || 6379))
    await proxy.start()
    store = await openRedisStore(`redis://127.0.0.1:${proxy.port}`, prefix, quiet)
    other = new Redis(redisUrl!, { keyPrefix: prefix })
  })
  after(async () => {
    await store?.close()
    await proxy?.stop()
    const keys = await other.keys(`${prefix}*`)
    if (keys.length > 0) await other.unlink(...keys.map((key) => key.slice(prefix.length)))
    other.disconnect()
  })

  /** Cuts this store off Redis; resolves once its client has seen the connection go. */
  async function cut(): Promise<void> {
    const closed = once(store.client, 'close')
    await proxy.stop()
    await closed
  }

  /** Lets it reach Redis again; resolves once its client is connected and its kept writes are written. */
  async function restore(): Promise<void> {
    const ready = once(store.client, 'ready')
    await proxy.start()
    await ready
    await store.settled()
  }

  test('when a write that must not be lost fails while Redis is unreachable, then it is written once Redis is back', async () => {
    await store.set('gen:1', 'before', minute)
    await store.set('gen:2', 'before', minute)
    await cut()

    await assert.rejects(store.setEventually('gen:1', 'after', minute), 'the caller learns the write is not there yet')
    await assert.rejects(store.set('gen:2', 'after', minute))
    assert.equal(await other.get('gen:1'), 'before', 'the other instance still sees the old value')

    await restore()
    assert.equal(await other.get('gen:1'), 'after', 'the kept write reached Redis')
    const ttl = await other.pttl('gen:1')
    assert.ok(ttl > 0 && ttl <= minute, `it keeps its TTL (${ttl} ms left)`)
    assert.equal(await other.get('gen:2'), 'before', 'a plain set is not kept')
  })

  test('when a key is written again before Redis is back, then only the latest value is written', async () => {
    await cut()
    await assert.rejects(store.setEventually('gen:3', 'first', minute))
    await assert.rejects(store.setEventually('gen:3', 'second', minute))
    await restore()
    assert.equal(await other.get('gen:3'), 'second')
  })

  test('when a kept write is superseded by a write that succeeds, then the kept one is dropped', async () => {
    await cut()
    await assert.rejects(store.setEventually('gen:4', 'kept', minute))
    const ready = once(store.client, 'ready')
    await proxy.start()
    await ready
    // The store is reachable and a newer write lands; whatever the order, the newer value stays.
    await store.set('gen:4', 'newer', minute)
    await store.settled()
    assert.equal(await other.get('gen:4'), 'newer')
  })
})
