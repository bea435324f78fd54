import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../src/config.js'
import { describeEachBackend, type Harness } from './support/harness.js'
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

describeEachBackend(
  'general rate limit: whose budget',
  (h) => {
    const me = (authorization: string, remoteAddress: string) =>
      h.request({ method: 'GET', url: '/me', remoteAddress, headers: { authorization } })

    test('when a token is revoked or its account deleted, or the route is sign-in, then the request counts against the address', async () => {
      const alice = await signUp(h)
      const bob = await signUp(h)
      assert.equal((await h.request({ method: 'POST', url: '/logout/all', headers: alice.auth })).statusCode, 204)
      assert.equal(
        (await h.request({ method: 'DELETE', url: '/me', headers: bob.auth, payload: { password: bob.password } })).statusCode,
        204,
      )
      const ip = '198.51.100.90'
      // Eight requests with the dead tokens, one sign-in carrying a token, one without: ten from one address.
      for (const token of [alice, bob, alice, bob, alice, bob, alice, bob])
        assert.equal((await me(token.auth.authorization, ip)).statusCode, 401)
      const carol = await signUp(h)
      const login = await h.request({
        method: 'POST',
        url: '/login',
        remoteAddress: ip,
        headers: carol.auth,
        payload: { email: carol.email, password: 'not it' },
      })
      assert.equal(login.statusCode, 401)
      assert.equal((await me('Bearer nothing', ip)).statusCode, 401)
      assert.equal((await me('Bearer nothing', ip)).statusCode, 429, 'the address budget is spent')
      assert.equal((await me(carol.auth.authorization, ip)).statusCode, 200, 'a live session has its own')
    })
  },
  { env: { RATE_LIMIT_MAX: '10', RATE_LIMIT_WINDOW_SECONDS: '60' } },
)

describeEachBackend(
  'sign-up limit',
  (h) => {
    const register = (email: string, ip: string) =>
      h.request({ method: 'POST', url: '/register', remoteAddress: ip, payload: { email, password: 'a long enough passphrase' } })

    test('when one address signs up more than SIGNUP_RATE_LIMIT_MAX times in the window, then it gets 429 with the window left, and other addresses and sign-in are unaffected', async () => {
      const ip = '203.0.113.50'
      const stamp = Date.now()
      for (let i = 0; i < 3; i++) assert.equal((await register(`signup-${stamp}-${i}@example.com`, ip)).statusCode, 201)
      const refused = await register(`signup-${stamp}-3@example.com`, ip)
      assert.equal(refused.statusCode, 429)
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8')
      const retryAfter = Number(refused.headers['retry-after'])
      assert.ok(retryAfter > 3000 && retryAfter <= 3600, `Retry-After ${retryAfter} is the hour's remainder`)
      assert.equal(
        (await h.request({ method: 'POST', url: '/register', remoteAddress: ip, payload: { email: 'x' } })).statusCode,
        429,
        'counted before the body is looked at',
      )

      assert.equal((await register(`signup-${stamp}-other@example.com`, '203.0.113.51')).statusCode, 201, 'another address has its own')
      const login = await h.request({
        method: 'POST',
        url: '/login',
        remoteAddress: ip,
        payload: { email: `signup-${stamp}-0@example.com`, password: 'a long enough passphrase' },
      })
      assert.equal(login.statusCode, 200, 'sign-in from the same address is not a sign-up')
    })
  },
  { env: { SIGNUP_RATE_LIMIT_MAX: '3', SIGNUP_RATE_LIMIT_WINDOW_SECONDS: '3600' } },
)

test('TRUST_PROXY takes false, true, a hop count or proxy addresses and CIDR ranges, and refuses anything else', () => {
  const trust = (value: string) => loadConfig({ TRUST_PROXY: value }).trustProxy
  assert.equal(trust(''), false)
  assert.equal(trust('false'), false)
  assert.equal(trust('true'), true)
  assert.equal(trust('1'), 1)
  assert.deepEqual(trust('10.0.0.1, 172.16.0.0/12,fd00::/8'), ['10.0.0.1', '172.16.0.0/12', 'fd00::/8'])
  for (const bad of ['maybe', 'nginx', '10.0.0.0/33', '10.0.0.1/8/1', '-1', '1.5']) {
    assert.throws(() => trust(bad), /TRUST_PROXY/, bad)
  }
})

/** Five requests spend a budget of 5; the sixth says whose budget it was. */
async function sixthStatus(h: Harness, remoteAddress: string, forwardedFor: (i: number) => string): Promise<number> {
  let status = 0
  for (let i = 0; i < 6; i++) {
    const res = await h.request({ method: 'GET', url: '/no-such-route', remoteAddress, headers: { 'x-forwarded-for': forwardedFor(i) } })
    status = res.statusCode
  }
  return status
}

describeEachBackend(
  'general rate limit behind one proxy hop (TRUST_PROXY=1)',
  (h) => {
    const proxy = '10.0.0.2'

    test('when a client forges the leftmost X-Forwarded-For, then it still spends the budget of the address the proxy saw', async () => {
      assert.equal(await sixthStatus(h, proxy, (i) => `192.0.2.${i}, 203.0.113.7`), 429)
      const other = await h.request({
        method: 'GET',
        url: '/no-such-route',
        remoteAddress: proxy,
        headers: { 'x-forwarded-for': '192.0.2.1, 203.0.113.8' },
      })
      assert.equal(other.statusCode, 404, 'another client behind the same proxy has its own budget')
    })

    test('when the forwarded value is not an IP address, then the proxy’s own address is the key, never the text', async () => {
      assert.equal(await sixthStatus(h, '10.0.0.3', (i) => `not-an-ip-${i}`), 429)
    })
  },
  { env: { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_SECONDS: '60', TRUST_PROXY: '1' } },
)

describeEachBackend(
  'general rate limit behind listed proxies (TRUST_PROXY=10.0.0.0/8)',
  (h) => {
    test('when the request comes from a listed proxy, then its X-Forwarded-For names the client', async () => {
      assert.equal(await sixthStatus(h, '10.1.2.3', (i) => `203.0.113.${20 + i}`), 404, 'six clients, one request each')
    })

    test('when the request comes from elsewhere, then its X-Forwarded-For is ignored', async () => {
      assert.equal(await sixthStatus(h, '198.51.100.77', (i) => `203.0.113.${40 + i}`), 429)
    })

    test('when a client forges the leftmost X-Forwarded-For through two listed proxies, then the key is the address the outer proxy saw', async () => {
      // The edge proxy 10.9.9.9 appended what it saw (203.0.113.7); the forged values come before it.
      assert.equal(await sixthStatus(h, '10.1.2.3', (i) => `192.0.2.${i}, 203.0.113.7, 10.9.9.9`), 429)
      const other = await h.request({
        method: 'GET',
        url: '/no-such-route',
        remoteAddress: '10.1.2.3',
        headers: { 'x-forwarded-for': '192.0.2.1, 203.0.113.8, 10.9.9.9' },
      })
      assert.equal(other.statusCode, 404, 'another client behind the same proxies has its own budget')
    })
  },
  { env: { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_SECONDS: '60', TRUST_PROXY: '10.0.0.0/8' } },
)
