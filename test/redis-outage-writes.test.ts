import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { canonicalEmail } from '../src/auth/email.js'
import type { RedisStore } from '../src/store/redis.js'
import { createEntry, listEntries } from './support/entries.js'
import { backendNames, createTestDatabase, testConfig, type Harness, type TestDatabase } from './support/harness.js'
import { TcpProxy } from './support/tcp-proxy.js'
import { signUp } from './support/users.js'

const redisUrl = process.env.TEST_REDIS_URL

/**
 * Writes to Redis made while it is down (cache invalidations, revocations) must reach the other
 * instances once it is back: a write only remembered in the process that made it would leave every
 * other instance serving stale pages, or a signed-out session, for as long as their TTL.
 */

for (const backend of backendNames()) {
  describe(`writes through a Redis outage [${backend}]`, { skip: redisUrl ? false : 'TEST_REDIS_URL is not set' }, () => {
    // Two instances on one database and one Redis: `a` reaches Redis through a proxy the test cuts.
    const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `moodlog-test:${randomUUID()}:` }
    let testDb: TestDatabase
    let proxy: TcpProxy
    let a: Harness
    let b: Harness

    const harness = (app: FastifyInstance): Harness => ({
      backend,
      app,
      db: testDb.db,
      config: app.config,
      request: (options) => app.inject(options) as never,
    })

    before(async () => {
      testDb = await createTestDatabase(backend)
      const target = new URL(redisUrl!)
      proxy = new TcpProxy(target.hostname, Number(target.port || 6379))
      await proxy.start()
      const viaProxy = await buildApp(testConfig({ ...env, REDIS_URL: `redis://127.0.0.1:${proxy.port}` }), {
        db: testDb.db,
        logger: false,
      })
      const direct = await buildApp(testConfig(env), { db: testDb.db, logger: false })
      await Promise.all([viaProxy.ready(), direct.ready()])
      a = harness(viaProxy)
      b = harness(direct)
    })
    /** Cuts `a` off from Redis until the returned function has brought it back and its kept writes are written. */
    const outage = async () => {
      const closed = once(a.app.stores.redis!, 'close')
      await proxy.stop()
      await closed
      return async () => {
        const ready = once(a.app.stores.redis!, 'ready')
        await proxy.start()
        await ready
        await (a.app.stores.shared as RedisStore).settled()
      }
    }

    after(async () => {
      await a?.app.close()
      await b?.app.close()
      await proxy?.stop()
      await testDb?.drop()
    })

    test('cache invalidations are retried after a Redis outage', async () => {
      const user = await signUp(a)
      await createEntry(a, user, { text: 'before the outage', mood: 5, category: 'outage' })
      assert.equal((await listEntries(b, user, { limit: 10 })).json().total, 1)
      const hits = b.app.cache.stats.hits
      assert.equal((await listEntries(b, user, { limit: 10 })).json().total, 1)
      assert.equal(b.app.cache.stats.hits, hits + 1, "b serves the user's page from Redis")

      const restore = await outage()
      // Committed to the database; the invalidation cannot reach Redis.
      await createEntry(a, user, { text: 'during the outage', mood: 6, category: 'outage' })
      await restore()

      // b reads first: a's own next read of the user must not be what repairs b.
      const page = (await listEntries(b, user, { limit: 10 })).json()
      assert.equal(page.total, 2, 'b does not serve the page the write made stale')
      assert.deepEqual(
        page.items.map((e: { text: string }) => e.text),
        ['during the outage', 'before the outage'],
      )
    })

    test('when a session is signed out while Redis is unreachable, then another instance refuses its access token once Redis is back', async () => {
      const user = await signUp(a)
      const me = (h: Harness) => h.request({ method: 'GET', url: '/me', headers: user.auth })
      assert.equal((await me(b)).statusCode, 200, 'b has seen the session live (and noted so in Redis)')

      const restore = await outage()
      // Revoked in the database; the revocation cannot reach Redis.
      const logout = await a.request({ method: 'POST', url: '/logout', payload: { refreshToken: user.refreshToken } })
      assert.equal(logout.statusCode, 204, logout.body)
      await restore()

      const after = await me(b)
      assert.equal(after.statusCode, 401, 'the revocation is in force on b')
    })

    test('when an account signs in while Redis is unreachable and is deleted before it is back, then no address of it is written to Redis', async () => {
      const user = await signUp(b)
      const known = `signin:known:${createHash('sha256').update(canonicalEmail(user.email)).digest('base64url')}`
      const redis = b.app.stores.redis!
      assert.equal(await redis.exists(known), 1, 'signing up through b made its address known in Redis')

      const restore = await outage()
      // a learns the address in memory, to be written to Redis once it is back.
      const login = await a.request({
        method: 'POST',
        url: '/login',
        remoteAddress: '198.51.100.44',
        payload: { email: user.email, password: user.password },
      })
      assert.equal(login.statusCode, 200, login.body)
      const deleted = await b.request({ method: 'DELETE', url: '/me', headers: user.auth, payload: { password: user.password } })
      assert.equal(deleted.statusCode, 204, deleted.body)
      assert.equal(await redis.exists(known), 0, 'the erasure deleted what Redis knew')
      await restore()
      await a.app.auth.throttle.settled()

      assert.equal(await redis.exists(known), 0, 'nothing of the erased account came back')
    })
  })
}
