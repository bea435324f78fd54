import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { describeEachBackend } from './support/harness.js'

/** A loopback port with nothing listening on it: a Redis that is down. */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

const redisDownUrl = `redis://127.0.0.1:${await closedPort()}`

describeEachBackend(
  'health with Redis down',
  (h) => {
    test('when Redis is down, then the instance stays ready, /health reports it degraded, and requests are served', async () => {
      const readyz = await h.request({ method: 'GET', url: '/readyz' })
      assert.equal(readyz.statusCode, 200, readyz.body)
      assert.deepEqual(readyz.json(), { status: 'degraded', database: 'up', redis: 'down' })

      const health = await h.request({ method: 'GET', url: '/health' })
      assert.equal(health.statusCode, 200, health.body)
      assert.deepEqual(health.json(), { status: 'degraded', database: 'up', redis: 'down' })

      const register = await h.request({
        method: 'POST',
        url: '/register',
        payload: { email: `redis-down-${Date.now()}@example.test`, password: 'correct horse battery staple' },
      })
      assert.equal(register.statusCode, 201, register.body)
    })
  },
  { env: { REDIS_URL: redisDownUrl } },
)

describeEachBackend('health under load', (h) => {
  test('when every database connection is held by a transaction, then /health and /readyz still say the database is up', async () => {
    const connections = h.db.usage().find((pool) => pool.pool === 'main')!.size
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let inside = 0
    let allInside!: () => void
    const busy = new Promise<void>((resolve) => (allInside = resolve))
    const held = Array.from({ length: connections }, () =>
      h.db.transaction(async (tx) => {
        await tx.query('select 1')
        if (++inside === connections) allInside()
        await gate
      }),
    )
    await busy
    try {
      for (const url of ['/health', '/readyz']) {
        const res = await h.request({ method: 'GET', url })
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
        assert.equal(res.json().database, 'up')
      }
    } finally {
      release()
      await Promise.all(held)
    }
  })
})
