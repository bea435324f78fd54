import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachBackend, type Harness } from '../../test/support/harness.js'

/** Five requests spend a budget of 5: the sixth is 429 when all six were keyed on one address. */
async function sixthStatus(h: Harness, remoteAddress: string, forwardedFor: (i: number) => string): Promise<number> {
  let status = 0
  for (let i = 0; i < 6; i++) {
    const res = await h.request({ method: 'GET', url: '/no-such-route', remoteAddress, headers: { 'x-forwarded-for': forwardedFor(i) } })
    status = res.statusCode
  }
  return status
}

describeEachBackend(
  'client address behind listed proxies (TRUST_PROXY=10.0.0.0/8)',
  (h) => {
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
