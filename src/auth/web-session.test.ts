import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.js'
import { createTestDatabase, describeEachBackend, testConfig, type Harness, type TestDatabase } from '../../test/support/harness.js'
import { signUp, uniqueEmail } from '../../test/support/users.js'

const PROBLEM = 'application/problem+json; charset=utf-8'
const WEB = { 'x-moodlog-client': 'web' }
const PASSWORD = 'correct horse battery staple'

type Response = Awaited<ReturnType<Harness['request']>>

/** The raw Set-Cookie lines of a response. */
function setCookies(res: Response): string[] {
  const header = res.headers['set-cookie']
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}

/** The refresh cookie's value, checking both copies carry the same one. */
function cookieValue(res: Response): string {
  const values = res.cookies.filter((c) => c.name === 'moodlog_refresh').map((c) => c.value)
  assert.equal(values.length, 2, `two copies of the cookie: ${setCookies(res).join(' | ')}`)
  assert.equal(values[0], values[1])
  return values[0]!
}

async function webSignIn(h: Harness, headers: Record<string, string> = {}) {
  const email = uniqueEmail()
  assert.equal((await h.request({ method: 'POST', url: '/register', payload: { email, password: PASSWORD } })).statusCode, 201)
  const res = await h.request({ method: 'POST', url: '/login', headers: { ...WEB, ...headers }, payload: { email, password: PASSWORD } })
  assert.equal(res.statusCode, 200, res.body)
  return { res, cookie: cookieValue(res), accessToken: res.json().accessToken as string }
}

const refreshWithCookie = (h: Harness, cookie: string, headers: Record<string, string> = WEB) =>
  h.request({ method: 'POST', url: '/token/refresh', headers: { ...headers, cookie: `moodlog_refresh=${cookie}` } })

const me = (h: Harness, accessToken: string) =>
  h.request({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${accessToken}` } })

describeEachBackend(
  'Web session cookie',
  (h) => {
    test('when the web UI signs in, then the refresh token is only in an HttpOnly, SameSite=Strict cookie scoped to refresh and logout', async () => {
      const { res, cookie, accessToken } = await webSignIn(h)
      const body = res.json()
      assert.deepEqual(Object.keys(body).sort(), ['accessToken', 'expiresIn', 'tokenType'])
      assert.doesNotMatch(res.body, new RegExp(cookie.replace(/[.]/g, '\\.')), 'the refresh token is not in the body')
      const lines = setCookies(res)
      assert.equal(lines.length, 2)
      const paths = res.cookies.map((c) => c.path).sort()
      assert.deepEqual(paths, ['/logout', '/token/refresh'])
      for (const line of lines) {
        // HttpOnly: document.cookie never shows it, so no page script (nor injected one) can read it.
        assert.match(line, /; HttpOnly(;|$)/i, line)
        assert.match(line, /; SameSite=Strict(;|$)/i, line)
        assert.match(line, /; Max-Age=2592000(;|$)/i, line)
        assert.doesNotMatch(line, /; Secure/i, 'plain http: a Secure cookie would never come back')
        assert.doesNotMatch(line, /; Domain=/i, line)
      }
      assert.equal((await me(h, accessToken)).statusCode, 200)
    })

    test('when the request came over https (per the trusted proxy), then the cookie is Secure', async () => {
      const { res } = await webSignIn(h, { 'x-forwarded-proto': 'https' })
      for (const line of setCookies(res)) assert.match(line, /; Secure(;|$)/i, line)
    })

    test('when the web UI refreshes with its cookie, then it gets a new access token and the cookie rotates', async () => {
      const { cookie } = await webSignIn(h)
      const res = await refreshWithCookie(h, cookie)
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual(Object.keys(res.json()).sort(), ['accessToken', 'expiresIn', 'tokenType'])
      const rotated = cookieValue(res)
      assert.notEqual(rotated, cookie)
      assert.equal((await me(h, res.json().accessToken)).statusCode, 200)
      // An empty JSON object is as good as no body.
      const again = await h.request({
        method: 'POST',
        url: '/token/refresh',
        headers: { ...WEB, cookie: `moodlog_refresh=${rotated}` },
        payload: {},
      })
      assert.equal(again.statusCode, 200, again.body)
    })

    test('when a rotated cookie is presented again, then the whole session family ends, as with body tokens', async () => {
      const { cookie: first } = await webSignIn(h)
      const rotated = await refreshWithCookie(h, first)
      assert.equal(rotated.statusCode, 200)
      const second = cookieValue(rotated)
      const secondAccess = rotated.json().accessToken

      const replay = await refreshWithCookie(h, first)
      assert.equal(replay.statusCode, 401)
      assert.equal(replay.headers['content-type'], PROBLEM)
      assert.match(replay.json().detail, /already used/)
      // The dead cookie is cleared.
      for (const c of replay.cookies) assert.equal(c.maxAge, 0)

      assert.equal((await refreshWithCookie(h, second)).statusCode, 401, 'the newest cookie of the family is dead too')
      assert.equal((await me(h, secondAccess)).statusCode, 401, 'and so are its access tokens')
    })

    test('when a cross-site form posts to refresh or logout with the cookie, then it is refused and the session lives on', async () => {
      const { cookie, accessToken } = await webSignIn(h)
      const cookieHeader = `moodlog_refresh=${cookie}`
      const attacks: Array<{ url: string; headers: Record<string, string>; payload?: string }> = []
      for (const url of ['/token/refresh', '/logout']) {
        attacks.push(
          {
            url,
            headers: { cookie: cookieHeader, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
            payload: 'a=b',
          },
          { url, headers: { cookie: cookieHeader, origin: 'https://evil.example', 'content-type': 'text/plain' }, payload: '{}' },
          { url, headers: { cookie: cookieHeader, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' },
          { url, headers: { cookie: cookieHeader } },
          // The custom header does not make a foreign origin acceptable.
          { url, headers: { ...WEB, cookie: cookieHeader, origin: 'https://evil.example' } },
          { url, headers: { ...WEB, cookie: cookieHeader, origin: 'null' } },
        )
      }
      for (const attack of attacks) {
        const res = await h.request({ method: 'POST', ...attack })
        assert.equal(res.statusCode, 403, `${attack.url} ${JSON.stringify(attack.headers)}`)
        assert.equal(res.headers['content-type'], PROBLEM)
        assert.equal(res.json().type, '/problems/csrf')
        assert.deepEqual(setCookies(res), [], 'a refused request does not touch the cookie')
      }
      assert.equal((await me(h, accessToken)).statusCode, 200, 'the session was not logged out')
      const own = await refreshWithCookie(h, cookie)
      assert.equal(own.statusCode, 200, 'nor was its cookie spent')
    })

    test('when the cookie comes with this site’s own Origin, then it is accepted without the custom header', async () => {
      const { cookie } = await webSignIn(h)
      const res = await refreshWithCookie(h, cookie, { origin: 'http://localhost:80', host: 'localhost:80' })
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.json().refreshToken, undefined)
      assert.notEqual(cookieValue(res), cookie)
    })

    test('when the web UI signs out, then both cookies are cleared and the session ends; signing out again is fine', async () => {
      const { cookie, accessToken } = await webSignIn(h)
      const out = await h.request({ method: 'POST', url: '/logout', headers: { ...WEB, cookie: `moodlog_refresh=${cookie}` } })
      assert.equal(out.statusCode, 204, out.body)
      assert.deepEqual(out.cookies.map((c) => c.path).sort(), ['/logout', '/token/refresh'])
      for (const c of out.cookies) {
        assert.equal(c.name, 'moodlog_refresh')
        assert.equal(c.value, '')
        assert.equal(c.maxAge, 0)
      }
      assert.equal((await me(h, accessToken)).statusCode, 401)
      assert.equal((await refreshWithCookie(h, cookie)).statusCode, 401)
      // A retried sign-out without a cookie left.
      const again = await h.request({ method: 'POST', url: '/logout', headers: WEB })
      assert.equal(again.statusCode, 204, again.body)
    })

    test('when the web UI has no cookie (never signed in, or cleared), then refresh is 401', async () => {
      const res = await h.request({ method: 'POST', url: '/token/refresh', headers: WEB })
      assert.equal(res.statusCode, 401)
      assert.equal(res.headers['content-type'], PROBLEM)
    })

    test('when an API client uses body tokens, then nothing changes: tokens in the body, no cookie', async () => {
      const user = await signUp(h)
      assert.match(user.refreshToken, /\./)
      const refreshed = await h.request({ method: 'POST', url: '/token/refresh', payload: { refreshToken: user.refreshToken } })
      assert.equal(refreshed.statusCode, 200)
      assert.deepEqual(Object.keys(refreshed.json()).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'tokenType'])
      assert.deepEqual(setCookies(refreshed), [])
      const missing = await h.request({ method: 'POST', url: '/token/refresh', payload: {} })
      assert.equal(missing.statusCode, 400)
      assert.equal((await h.request({ method: 'POST', url: '/token/refresh' })).statusCode, 400)
      const out = await h.request({ method: 'POST', url: '/logout', payload: { refreshToken: refreshed.json().refreshToken } })
      assert.equal(out.statusCode, 204)
      assert.deepEqual(setCookies(out), [])
    })

    test('when the document is read, then it describes the client header, the cookie and the Set-Cookie responses', async () => {
      const doc = (await h.request({ method: 'GET', url: '/openapi.json' })).json()
      for (const path of ['/login', '/token/refresh', '/logout']) {
        const operation = doc.paths[path].post
        const header = operation.parameters.find((p: any) => p.in === 'header' && p.name === 'x-moodlog-client')
        assert.ok(header, `${path} documents X-Moodlog-Client`)
        const status = path === '/logout' ? '204' : '200'
        assert.ok(operation.responses[status].headers['set-cookie'], `${path} documents Set-Cookie`)
      }
      for (const path of ['/token/refresh', '/logout']) {
        const cookie = doc.paths[path].post.parameters.find((p: any) => p.in === 'cookie')
        assert.equal(cookie?.name, 'moodlog_refresh', `${path} documents the cookie`)
      }
    })
  },
  { env: { TRUST_PROXY: 'true' } },
)

describe('Web session cookie without a trusted proxy', () => {
  let testDb: TestDatabase
  let app: FastifyInstance
  before(async () => {
    testDb = await createTestDatabase('pglite')
    app = await buildApp(testConfig(), { db: testDb.db, logger: false })
    await app.ready()
  })
  after(async () => {
    await app.close()
    await testDb.drop()
  })

  test('when a client claims https in X-Forwarded-Proto and no proxy is trusted, then the cookie is not Secure', async () => {
    const email = uniqueEmail()
    await app.inject({ method: 'POST', url: '/register', payload: { email, password: PASSWORD } })
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...WEB, 'x-forwarded-proto': 'https' },
      payload: { email, password: PASSWORD },
    })
    assert.equal(res.statusCode, 200)
    const lines = [res.headers['set-cookie']].flat()
    assert.equal(lines.length, 2)
    for (const line of lines) assert.doesNotMatch(String(line), /; Secure/i)
  })
})
