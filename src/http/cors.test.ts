import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { describeEachBackend } from '../../test/support/harness.js'

/** What a browser at `origin` checks before it lets the page read an answer (Fetch standard, CORS check). */
function readableFrom(res: LightMyRequestResponse, origin: string): boolean {
  const allowed = res.headers['access-control-allow-origin']
  return allowed === '*' || allowed === origin
}

describeEachBackend(
  'CORS for any origin (CORS_ORIGINS=*)',
  (h) => {
    test('when CORS_ORIGINS is *, then a page from any origin may send an authenticated request and read the answer', async () => {
      for (const origin of ['https://app.example.com', 'http://localhost:5173']) {
        const preflight = await h.request({
          method: 'OPTIONS',
          url: '/entries',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
        })
        assert.equal(preflight.statusCode, 204, origin)
        assert.ok(readableFrom(preflight, origin), `preflight from ${origin}`)
        assert.match(String(preflight.headers['access-control-allow-methods']), /POST/)
        assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/i)

        const res = await h.request({ method: 'GET', url: '/livez', headers: { origin } })
        assert.equal(res.statusCode, 200)
        assert.ok(readableFrom(res, origin), `answer to ${origin}`)
        if (res.headers['access-control-allow-origin'] !== '*') {
          assert.match(String(res.headers.vary), /origin/i, 'an answer naming its origin tells caches it depends on it')
        }
        assert.match(String(res.headers['access-control-expose-headers']), /x-request-id/i, 'the page can read the request id')
      }
    })
  },
  { env: { CORS_ORIGINS: '*' } },
)
