import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createTestDatabase, type TestDatabase } from './support/harness.js'
import { startServerProcess, type ServerProcess } from './support/process.js'
import { PrivateRedis } from './support/redis-server.js'

const RATE_LIMIT_MAX = 20

interface Client {
  call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any; ms: number }>
}

function client(server: ServerProcess): Client {
  return {
    async call(method, path, body, token) {
      const started = Date.now()
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      })
      const text = await res.text()
      return { status: res.status, body: text ? JSON.parse(text) : undefined, ms: Date.now() - started }
    },
  }
}

async function signUp(a: Client, b: Client) {
  const credentials = { email: `scale-${randomUUID()}@example.test`, password: 'shared across instances' }
  assert.equal((await a.call('POST', '/register', credentials)).status, 201)
  const login = await b.call('POST', '/login', credentials)
  assert.equal(login.status, 200)
  return { ...credentials, accessToken: login.body.accessToken as string, refreshToken: login.body.refreshToken as string }
}

/** Sends `count` authenticated requests alternating between the instances; returns the statuses. */
async function alternate(a: Client, b: Client, count: number, token: string): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < count; i++) statuses.push((await (i % 2 ? b : a).call('GET', '/me', undefined, token)).status)
  return statuses
}

async function startPair(env: Record<string, string>): Promise<[ServerProcess, ServerProcess]> {
  return Promise.all([startServerProcess(env), startServerProcess(env)])
}

const enabled = Boolean(process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL)

if (enabled) {
  describe('two instances sharing the Postgres server and Redis', () => {
    let testDb: TestDatabase
    let servers: ServerProcess[] = []
    let a: Client
    let b: Client

    before(async () => {
      testDb = await createTestDatabase('postgres')
      servers = await startPair({
        DATABASE_URL: testDb.url!,
        REDIS_URL: process.env.TEST_REDIS_URL!,
        REDIS_KEY_PREFIX: `moodlog-test-${randomUUID()}:`,
        RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
      })
      ;[a, b] = servers.map(client) as [Client, Client]
    })
    after(async () => {
      for (const server of servers) server.child.kill('SIGTERM')
      await Promise.all(servers.map((s) => s.exited))
      await testDb?.drop()
    })

    test('when RATE_LIMIT_MAX + 1 requests are spread over both, then exactly one gets 429', async () => {
      const user = await signUp(a, b)
      const statuses = await alternate(a, b, RATE_LIMIT_MAX + 1, user.accessToken)
      assert.deepEqual(statuses, [...Array(RATE_LIMIT_MAX).fill(200), 429])
    })

    test('when an entry is written on A, then the very next read on B sees it (cache included)', async () => {
      const user = await signUp(a, b)
      const token = user.accessToken
      // Warm B's cache of the first page, the count and the statistics.
      assert.equal((await b.call('GET', '/entries?limit=5', undefined, token)).body.total, 0)
      assert.equal((await b.call('GET', '/stats', undefined, token)).body.overall.count, 0)
      assert.equal((await b.call('GET', '/entries?limit=5', undefined, token)).body.total, 0)

      const created = await a.call('POST', '/entries', { text: 'written on A', mood: 8, category: 'scale' }, token)
      assert.equal(created.status, 201)
      const page = await b.call('GET', '/entries?limit=5', undefined, token)
      assert.equal(page.body.total, 1)
      assert.equal(page.body.items[0].text, 'written on A')
      assert.equal((await b.call('GET', '/stats', undefined, token)).body.overall.count, 1)

      const patched = await a.call('PATCH', `/entries/${created.body.id}`, { mood: 3 }, token)
      assert.equal(patched.status, 200)
      assert.equal((await b.call('GET', '/entries?limit=5', undefined, token)).body.items[0].mood, 3)
      assert.equal((await a.call('DELETE', `/entries/${created.body.id}`, undefined, token)).status, 204)
      assert.equal((await b.call('GET', '/entries?limit=5', undefined, token)).body.total, 0)
    })

    test('when a user logs out on A, then the access token is refused on B at once', async () => {
      const user = await signUp(a, b)
      assert.equal((await b.call('GET', '/me', undefined, user.accessToken)).status, 200)
      assert.equal((await a.call('POST', '/logout', { refreshToken: user.refreshToken })).status, 204)
      assert.equal((await b.call('GET', '/me', undefined, user.accessToken)).status, 401)
    })
  })

  describe('when Redis stops mid-run and comes back', () => {
    const redis = new PrivateRedis()
    let testDb: TestDatabase
    let servers: ServerProcess[] = []
    let a: Client
    let b: Client

    before(async () => {
      await redis.start()
      testDb = await createTestDatabase('postgres')
      servers = await startPair({
        DATABASE_URL: testDb.url!,
        REDIS_URL: redis.url,
        RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
      })
      ;[a, b] = servers.map(client) as [Client, Client]
    })
    after(async () => {
      for (const server of servers) server.child.kill('SIGTERM')
      await Promise.all(servers.map((s) => s.exited))
      await redis.stop()
      await testDb?.drop()
    })

    test('then requests keep succeeding quickly, the outage is logged once, and limits are shared again afterwards', async () => {
      const user = await signUp(a, b)
      assert.equal((await a.call('GET', '/health')).body.redis, 'up')

      assert.equal(
        (await a.call('POST', '/entries', { text: 'before the outage', mood: 6, category: 'redis' }, user.accessToken)).status,
        201,
      )
      assert.equal((await b.call('GET', '/entries', undefined, user.accessToken)).body.total, 1)

      await redis.stop()
      const during = []
      for (let i = 0; i < 10; i++) {
        const server = i % 2 ? b : a
        during.push(await server.call('GET', '/entries', undefined, user.accessToken))
        during.push(await server.call('POST', '/entries', { text: `during the outage ${i}`, mood: 5, category: 'redis' }, user.accessToken))
      }
      assert.deepEqual(
        during.map((r) => r.status),
        Array(10).fill([200, 201]).flat(),
      )
      // Reads during the outage come from the database: each sees every write before it.
      assert.equal((await b.call('GET', '/entries', undefined, user.accessToken)).body.total, 11)
      assert.ok(Math.max(...during.map((r) => r.ms)) < 2000, `slowest ${Math.max(...during.map((r) => r.ms))} ms`)
      // Still serving: reported as degraded, and still ready (a probe must not take it out).
      const health = await a.call('GET', '/health')
      assert.equal(health.status, 200)
      assert.deepEqual(health.body, { status: 'degraded', database: 'up', redis: 'down' })
      assert.equal((await a.call('GET', '/readyz')).status, 200)
      // A new sign-in works too, and the login throttle still holds (per instance) instead of failing open.
      assert.equal((await b.call('POST', '/login', { email: user.email, password: user.password })).status, 200)
      for (let i = 0; i < 10; i++) assert.equal((await a.call('POST', '/login', { email: user.email, password: `wrong ${i}` })).status, 401)
      assert.equal((await a.call('POST', '/login', { email: user.email, password: user.password })).status, 429)
      for (const server of servers) {
        assert.equal((server.output().match(/redis unavailable/g) ?? []).length, 1, 'one warning per outage')
      }

      await redis.start()
      const deadline = Date.now() + 10_000
      while ((await a.call('GET', '/health')).body.redis !== 'up' || (await b.call('GET', '/health')).body.redis !== 'up') {
        assert.ok(Date.now() < deadline, 'both instances reconnect by themselves')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const fresh = await signUp(a, b)
      const statuses = await alternate(a, b, RATE_LIMIT_MAX + 1, fresh.accessToken)
      assert.deepEqual(statuses, [...Array(RATE_LIMIT_MAX).fill(200), 429])
    })
  })
}
