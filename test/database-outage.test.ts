import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import testRoutes from './fixtures/slow-routes.js'
import { backendNames, createTestDatabase, testConfig } from './support/harness.js'
import { TcpProxy } from './support/tcp-proxy.js'

/** An app whose database connections go through a proxy the test can stall. */
async function appBehindProxy(cleanups: Array<() => Promise<unknown>>, env: Record<string, string> = {}) {
  const testDb = await createTestDatabase('postgres')
  cleanups.push(() => testDb.drop())
  const target = new URL(testDb.url!)
  const proxy = new TcpProxy(target.hostname, Number(target.port || 5432))
  await proxy.start()
  cleanups.push(() => proxy.stop())
  target.hostname = '127.0.0.1'
  target.port = String(proxy.port)
  const app: FastifyInstance = await buildApp(testConfig({ DATABASE_URL: target.toString(), ...env }), {
    logger: false,
    plugins: [testRoutes],
  })
  cleanups.push(() => app.close())
  return { app, proxy, testDb }
}

async function timed(app: FastifyInstance, url: string) {
  const started = performance.now()
  const response = await app.inject({ url })
  return { response, ms: performance.now() - started }
}

if (backendNames().includes('postgres')) {
  describe('when Postgres stops answering', () => {
    const cleanups: Array<() => Promise<unknown>> = []
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup()
    })

    test('then requests fail within the connect bound, then at once while the breaker is open, and recover by themselves', async () => {
      // Defaults: connect and acquire timeouts 2 s, breaker after 5 failures; the request timeout (10 s) is far off.
      const { app, proxy } = await appBehindProxy(cleanups, { DATABASE_POOL_SIZE: '4' })
      assert.equal((await app.inject({ url: '/test/db' })).statusCode, 200)
      assert.equal((await app.inject({ url: '/test/tx' })).statusCode, 200)

      proxy.stall()
      // More callers than connections: some wait for a connection, the others for a connect that never completes.
      const burst = await Promise.all(Array.from({ length: 12 }, (_, n) => timed(app, n % 2 ? '/test/db' : '/test/tx')))
      for (const { response, ms } of burst) {
        assert.equal(response.statusCode, 503)
        assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8')
        assert.equal(response.json().type, '/problems/database-unavailable')
        assert.ok(ms < 4500, `answered in ${Math.round(ms)} ms: within the 2 s connect and acquire bounds, plus load`)
      }
      // The breaker is open now: nothing waits for a connection any more.
      const started = performance.now()
      for (let n = 0; n < 10; n++) assert.equal((await app.inject({ url: n % 2 ? '/test/db' : '/test/tx' })).statusCode, 503)
      assert.equal((await app.inject({ url: '/health' })).json().database, 'down')
      const elapsed = performance.now() - started
      assert.ok(elapsed < 1500, `ten requests and a health check in ${Math.round(elapsed)} ms while the breaker is open`)

      proxy.resume()
      // The first good probe (one a second) closes the breaker: wait for it by asking, not by sleeping a guess.
      const deadline = Date.now() + 20_000
      while ((await app.inject({ url: '/test/db' })).statusCode !== 200) {
        assert.ok(Date.now() < deadline, 'recovered within 20 s')
        await sleep(100)
      }
      // Every connection of the pool is usable again: more transactions at once than connections.
      const recovered = await Promise.all(Array.from({ length: 10 }, () => app.inject({ url: '/test/tx' })))
      assert.deepEqual(
        recovered.map((r) => r.statusCode),
        Array(10).fill(200),
      )
      assert.equal((await app.inject({ url: '/health' })).statusCode, 200)
    })
  })
}
