import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachBackend } from './support/harness.js'
import testRoutes from './fixtures/slow-routes.js'

const PROBLEM = 'application/problem+json; charset=utf-8'

describeEachBackend(
  'HTTP contract',
  (h) => {
    test('when a route does not exist, then the answer is a 404 problem carrying the request id', async () => {
      const res = await h.request({ method: 'GET', url: '/no/such/route?x=1' })
      assert.equal(res.statusCode, 404)
      assert.equal(res.headers['content-type'], PROBLEM)
      const body = res.json()
      assert.equal(body.status, 404)
      assert.equal(body.type, '/problems/not-found')
      assert.equal(body.instance, '/no/such/route')
      assert.equal(body.requestId, res.headers['x-request-id'])
      assert.match(body.requestId, /^[0-9a-f-]{36}$/)
    })

    test('when the client sends a sane X-Request-Id, then it is echoed; a hostile one is replaced', async () => {
      const sane = await h.request({ method: 'GET', url: '/livez', headers: { 'x-request-id': 'abc-123.def:9' } })
      assert.equal(sane.headers['x-request-id'], 'abc-123.def:9')
      const hostile = await h.request({ method: 'GET', url: '/livez', headers: { 'x-request-id': 'a b\u0000<script>' } })
      assert.notEqual(hostile.headers['x-request-id'], 'a b\u0000<script>')
      assert.match(String(hostile.headers['x-request-id']), /^[0-9a-f-]{36}$/)
      const long = await h.request({ method: 'GET', url: '/livez', headers: { 'x-request-id': 'x'.repeat(500) } })
      assert.equal(String(long.headers['x-request-id']).length, 36)
    })

    test('when a body is larger than 1 MiB, then the answer is 413 problem+json', async () => {
      const res = await h.request({
        method: 'POST',
        url: '/test/echo',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ mood: 5, text: 'x'.repeat(1024 * 1024) }),
      })
      assert.equal(res.statusCode, 413)
      assert.equal(res.headers['content-type'], PROBLEM)
      assert.equal(res.json().type, '/problems/body-too-large')
    })

    test('when the body is malformed JSON, then the answer is 400 problem+json', async () => {
      const res = await h.request({
        method: 'POST',
        url: '/test/echo',
        headers: { 'content-type': 'application/json' },
        payload: '{"mood": 5,',
      })
      assert.equal(res.statusCode, 400)
      assert.equal(res.headers['content-type'], PROBLEM)
      assert.equal(res.json().type, '/problems/invalid-json')
    })

    test('when body fields have the wrong type or are unknown, then 400 lists each field', async () => {
      const res = await h.request({ method: 'POST', url: '/test/echo', payload: { mood: '5', userId: 7 } })
      assert.equal(res.statusCode, 400)
      const body = res.json()
      assert.equal(body.type, '/problems/invalid-request')
      const fields = body.errors.map((e: { field: string }) => e.field).sort()
      assert.deepEqual(fields, ['mood', 'userId'])
    })

    test('when the body is valid, then the route sees it unchanged', async () => {
      const res = await h.request({ method: 'POST', url: '/test/echo', payload: { mood: 7, text: 'ok' } })
      assert.equal(res.statusCode, 200)
      assert.deepEqual(res.json(), { mood: 7, text: 'ok' })
    })

    test('when the database answers, then /health, /readyz and /livez are 200', async () => {
      const health = await h.request({ method: 'GET', url: '/health' })
      assert.equal(health.statusCode, 200, health.body)
      assert.deepEqual(health.json(), { status: 'ok', database: 'up', redis: 'disabled' })
      assert.equal((await h.request({ method: 'GET', url: '/readyz' })).statusCode, 200)
      assert.deepEqual((await h.request({ method: 'GET', url: '/livez' })).json(), { status: 'ok' })
    })

    test('when the password hasher is saturated, then its domain error is answered 503 problem+json with Retry-After', async () => {
      const res = await h.request({ method: 'GET', url: '/test/hasher-busy' })
      assert.equal(res.statusCode, 503)
      assert.equal(res.headers['content-type'], PROBLEM)
      assert.equal(res.headers['retry-after'], '2')
      assert.equal(res.json().type, '/problems/service-unavailable')
      assert.equal(res.json().title, 'Service Unavailable')
    })

    test('every response carries security headers, errors included', async () => {
      for (const url of ['/livez', '/no-such-route', '/entries']) {
        const res = await h.request({ method: 'GET', url })
        assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
        assert.match(res.headers['content-security-policy'] as string, /default-src 'self'/, url)
        assert.match(res.headers['strict-transport-security'] as string, /max-age=\d+/, url)
        assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url)
        assert.equal(res.headers['referrer-policy'], 'no-referrer', url)
      }
    })
  },
  { plugins: [testRoutes] },
)

// Only these tests run with a 1 s request timeout: on a loaded machine, others could outlive it.
describeEachBackend(
  'request timeout',
  (h) => {
    test('when a handler outlives REQUEST_TIMEOUT_SECONDS, then the client gets a 503 problem', async () => {
      const started = Date.now()
      const res = await h.request({ method: 'GET', url: '/test/slow?ms=30000' })
      assert.equal(res.statusCode, 503)
      assert.equal(res.headers['content-type'], PROBLEM)
      assert.equal(res.json().type, '/problems/request-timeout')
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.ok(Date.now() - started < 15_000, 'answered at the timeout, not when the handler finished')
    })

    test('when a health check itself outlives the timeout, then the 503 is still a well-formed problem', async () => {
      const res = await h.request({ method: 'GET', url: '/test/slow-health' })
      assert.equal(res.statusCode, 503)
      assert.equal(res.headers['content-type'], PROBLEM)
      assert.equal(res.json().type, '/problems/request-timeout')
    })
  },
  { env: { REQUEST_TIMEOUT_SECONDS: '1' }, plugins: [testRoutes] },
)

describeEachBackend(
  'CORS',
  (h) => {
    test('when CORS_ORIGINS lists an origin, then its preflight is allowed and other origins get no CORS headers', async () => {
      const preflight = await h.request({
        method: 'OPTIONS',
        url: '/entries',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
      })
      assert.equal(preflight.statusCode, 204)
      assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com')
      const other = await h.request({ method: 'GET', url: '/livez', headers: { origin: 'https://evil.example.com' } })
      assert.equal(other.headers['access-control-allow-origin'], undefined)
    })
  },
  { env: { CORS_ORIGINS: 'https://app.example.com' } },
)
