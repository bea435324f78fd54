import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEntry } from './support/entries.js'
import { describeEachBackend } from './support/harness.js'
import { signUp } from './support/users.js'

const PROBLEM = 'application/problem+json; charset=utf-8'

describeEachBackend('HTTP conventions', (h) => {
  test('when a known path is asked with a method it does not serve, then 405 problem+json lists the methods in Allow', async () => {
    for (const [method, url, allow] of [
      ['PUT', '/entries', 'GET, HEAD, POST'],
      ['PUT', '/entries/12', 'DELETE, GET, HEAD, PATCH'],
      ['POST', '/me', 'DELETE, GET, HEAD'],
      ['DELETE', '/login', 'POST'],
      ['OPTIONS', '/stats', 'GET, HEAD'],
    ] as const) {
      const res = await h.request({ method, url })
      assert.equal(res.statusCode, 405, `${method} ${url}: ${res.body}`)
      assert.equal(res.headers.allow, allow, `${method} ${url}`)
      assert.equal(res.headers['content-type'], PROBLEM)
      assert.equal(res.json().type, '/problems/method-not-allowed')
      assert.equal(res.json().instance, url)
    }
  })

  test('when the path is unknown whatever the method, then it is still a 404', async () => {
    const res = await h.request({ method: 'PUT', url: '/no/such/thing' })
    assert.equal(res.statusCode, 404)
    assert.equal(res.headers.allow, undefined)
    assert.equal(res.json().type, '/problems/not-found')
  })

  test('when a path ends with a slash, then it is a 404 problem on every route, never a 400 about a parameter', async () => {
    const user = await signUp(h)
    for (const url of ['/entries/', '/me/', '/stats/', '/login/', '/entries//']) {
      for (const headers of [{}, user.auth]) {
        const res = await h.request({ method: 'GET', url, headers })
        assert.equal(res.statusCode, 404, `${url}: ${res.body}`)
        assert.equal(res.headers['content-type'], PROBLEM)
        assert.equal(res.json().type, '/problems/not-found', url)
      }
    }
    const patch = await h.request({ method: 'PATCH', url: '/entries/', headers: user.auth, payload: { mood: 3 } })
    assert.equal(patch.statusCode, 404, patch.body)
  })

  test('when an entry is fetched with a current If-None-Match, then the 304 has neither Content-Type nor Content-Length', async () => {
    const user = await signUp(h)
    const entry = await createEntry(h, user, { text: 'cached', mood: 6, category: 'work' })
    const first = await h.request({ method: 'GET', url: `/entries/${entry.id}`, headers: user.auth })
    const etag = String(first.headers.etag)
    const res = await h.request({ method: 'GET', url: `/entries/${entry.id}`, headers: { ...user.auth, 'if-none-match': etag } })
    assert.equal(res.statusCode, 304)
    assert.equal(res.headers['content-type'], undefined)
    assert.equal(res.headers['content-length'], undefined)
    assert.equal(res.body, '')
    assert.equal(res.headers.etag, etag)
  })

  test('when a JSON route gets a body of another media type, then it is 415 problem+json, text/plain included', async () => {
    for (const contentType of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await h.request({
        method: 'POST',
        url: '/login',
        headers: { 'content-type': contentType },
        payload: '{"email":"a@example.test","password":"x"}',
      })
      assert.equal(res.statusCode, 415, `${contentType}: ${res.body}`)
      assert.equal(res.headers['content-type'], PROBLEM)
      assert.equal(res.json().type, '/problems/unsupported-media-type')
      assert.match(res.json().detail, /application\/json/)
    }
  })

  test('when a documented route gets a query parameter it does not declare, then 400 names the parameter', async () => {
    const user = await signUp(h)
    for (const [url, headers] of [
      ['/entries?limit=5&sort=asc', user.auth],
      ['/stats?bucket=day&sort=asc', user.auth],
      ['/me?sort=asc', user.auth],
      ['/livez?sort=asc', {}],
    ] as const) {
      const res = await h.request({ method: 'GET', url, headers })
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`)
      assert.equal(res.headers['content-type'], PROBLEM)
      assert.deepEqual(res.json().errors, [{ field: 'query.sort', message: 'is not a known query parameter' }], url)
    }
    const login = await h.request({ method: 'POST', url: '/login?next=/', payload: { email: user.email, password: user.password } })
    assert.equal(login.statusCode, 400, login.body)
    // Declared parameters still work.
    assert.equal((await h.request({ method: 'GET', url: '/entries?limit=5', headers: user.auth })).statusCode, 200)
    assert.equal((await h.request({ method: 'GET', url: '/livez' })).statusCode, 200)
  })
})
