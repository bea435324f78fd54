import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachBackend } from './support/harness.js'
import { signUp } from './support/users.js'

describeEachBackend(
  'general rate limit (in-process store)',
  (h) => {
    test('when a client exceeds RATE_LIMIT_MAX, then it gets 429 problem+json with Retry-After and limit headers', async () => {
      const ip = '198.51.100.1'
      const statuses: number[] = []
      let last
      for (let i = 0; i < 6; i++) {
        last = await h.request({ method: 'GET', url: '/no-such-route', remoteAddress: ip })
        statuses.push(last.statusCode)
      }
      assert.deepEqual(statuses, [404, 404, 404, 404, 404, 429])
      assert.equal(last!.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.equal(last!.json().type, '/problems/too-many-requests')
      assert.ok(Number(last!.headers['retry-after']) >= 1)
      assert.equal(last!.headers['x-ratelimit-limit'], '5')
      assert.equal(last!.headers['x-ratelimit-remaining'], '0')
    })

    test('when X-Forwarded-For is forged without TRUST_PROXY, then the bucket is not reset', async () => {
      const ip = '198.51.100.2'
      for (let i = 0; i < 5; i++) await h.request({ method: 'GET', url: '/livez/x', remoteAddress: ip })
      const forged = await h.request({ method: 'GET', url: '/livez/x', remoteAddress: ip, headers: { 'x-forwarded-for': '203.0.113.9' } })
      assert.equal(forged.statusCode, 429)
    })

    test('when signed in, then the limit is per user, not per address; health endpoints are never limited', async () => {
      const ip = '198.51.100.3'
      // Registration and sign-in spend this address's budget (4 of 5).
      const alice = await signUp(h)
      const bob = await signUp(h)
      for (let i = 0; i < 5; i++) {
        assert.equal((await h.request({ method: 'GET', url: '/me', remoteAddress: ip, headers: alice.auth })).statusCode, 200)
      }
      assert.equal((await h.request({ method: 'GET', url: '/me', remoteAddress: ip, headers: alice.auth })).statusCode, 429)
      assert.equal(
        (await h.request({ method: 'GET', url: '/me', remoteAddress: ip, headers: bob.auth })).statusCode,
        200,
        'bob has his own budget',
      )
      for (let i = 0; i < 10; i++) {
        assert.equal((await h.request({ method: 'GET', url: '/health', remoteAddress: ip })).statusCode, 200)
      }
    })
  },
  { env: { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_SECONDS: '60' } },
)
