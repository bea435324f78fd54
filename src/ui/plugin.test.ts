import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.js'
import { createTestDatabase, testConfig, type TestDatabase } from '../../test/support/harness.js'

/** A small Vite-shaped build: index.html, hashed assets, one unhashed file. */
const FIXTURE = path.resolve(import.meta.dirname, '../../test/fixtures/web')
const PROBLEM = 'application/problem+json; charset=utf-8'
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

describe('web UI served by the app', () => {
  let testDb: TestDatabase
  let app: FastifyInstance

  before(async () => {
    testDb = await createTestDatabase('pglite')
    app = await buildApp(testConfig({ WEB_DIR: FIXTURE }), { db: testDb.db, logger: false })
    await app.ready()
  })
  after(async () => {
    await app.close()
    await testDb.drop()
  })

  test('when / is opened, then index.html is served, revalidated on every load, under the strict UI policy', async () => {
    const res = await app.inject({ url: '/', headers: { accept: HTML } })
    assert.equal(res.statusCode, 200)
    assert.match(res.headers['content-type'] as string, /^text\/html/)
    assert.match(res.body, /<div id="app">/)
    assert.equal(res.headers['cache-control'], 'no-cache')
    assert.equal(res.headers['content-security-policy'], UI_CSP)
    assert.ok(res.headers.etag, 'index.html carries a validator for its revalidation')
    const again = await app.inject({ url: '/', headers: { accept: HTML, 'if-none-match': res.headers.etag as string } })
    assert.equal(again.statusCode, 304)
  })

  test('when a hashed asset is fetched, then it may be cached for a year and is never revalidated', async () => {
    const script = await app.inject({ url: '/assets/index-Bx7dQ2ka.js' })
    assert.equal(script.statusCode, 200)
    assert.match(script.headers['content-type'] as string, /javascript/)
    assert.equal(script.headers['cache-control'], 'public, max-age=31536000, immutable')
    const style = await app.inject({ url: '/assets/index-C4mR1pZs.css' })
    assert.equal(style.statusCode, 200)
    assert.match(style.headers['content-type'] as string, /^text\/css/)
    assert.equal(style.headers['cache-control'], 'public, max-age=31536000, immutable')
    // Unhashed files beside index.html (Vite's public/) are not immutable.
    assert.equal((await app.inject({ url: '/robots.txt' })).headers['cache-control'], 'no-cache')
  })

  test('when a browser navigates to a UI route, then it gets index.html (a reload or a shared link works)', async () => {
    for (const url of ['/insights', '/settings', '/signin', '/signup', '/insights?from=2026-01-01', '/some/deep/ui/path']) {
      const res = await app.inject({ url, headers: { accept: HTML } })
      assert.equal(res.statusCode, 200, url)
      assert.match(res.body, /<div id="app">/, url)
      assert.equal(res.headers['cache-control'], 'no-cache', url)
      assert.equal(res.headers['content-security-policy'], UI_CSP, url)
    }
    const head = await app.inject({ method: 'HEAD', url: '/insights', headers: { accept: HTML } })
    assert.equal(head.statusCode, 200)
    assert.match(head.headers['content-type'] as string, /^text\/html/)
    assert.equal(head.body, '')
  })

  test('when a missing asset is asked for, even as a page, then it is a 404 problem, never index.html', async () => {
    for (const accept of [HTML, '*/*']) {
      const res = await app.inject({ url: '/assets/index-0ld0ld00.js', headers: { accept } })
      assert.equal(res.statusCode, 404, accept)
      assert.equal(res.headers['content-type'], PROBLEM, accept)
      assert.equal(res.json().type, '/problems/not-found')
    }
  })

  test('when an unknown path is asked for without wanting HTML (fetch, curl), then it is a 404 problem', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const res = await app.inject({ url: '/insights', headers: accept ? { accept } : {} })
      assert.equal(res.statusCode, 404, String(accept))
      assert.equal(res.headers['content-type'], PROBLEM, String(accept))
    }
  })

  test('when a page is asked for on an API path, or with another method, then the API answers, not index.html', async () => {
    const unknownUnderApi = await app.inject({ url: '/entries/1/nothing-here', headers: { accept: HTML } })
    assert.equal(unknownUnderApi.statusCode, 404)
    assert.equal(unknownUnderApi.headers['content-type'], PROBLEM)
    for (const url of ['/docs/nothing-here', '/me/nothing-here', '/stats/x']) {
      const res = await app.inject({ url, headers: { accept: HTML } })
      assert.notEqual(res.statusCode, 200, url)
      assert.doesNotMatch(res.body, /<div id="app">/, url)
    }
    const entries = await app.inject({ url: '/entries', headers: { accept: HTML } })
    assert.equal(entries.statusCode, 401)
    assert.equal(entries.headers['content-type'], PROBLEM)
    const post = await app.inject({ method: 'POST', url: '/insights', headers: { accept: HTML } })
    assert.equal(post.statusCode, 404)
    assert.equal(post.headers['content-type'], PROBLEM)
  })

  test('when the API or Swagger UI answers, then each keeps its own policy rather than the UI one', async () => {
    const api = await app.inject({ url: '/livez' })
    assert.notEqual(api.headers['content-security-policy'], UI_CSP)
    assert.match(api.headers['content-security-policy'] as string, /default-src 'self'/)
    const docs = await app.inject({ url: '/docs/', headers: { accept: HTML } })
    assert.equal(docs.statusCode, 200)
    assert.match(docs.body, /swagger-ui/)
    assert.notEqual(docs.headers['content-security-policy'], UI_CSP)
  })

  test('when the UI is served, then its policy allows no inline or evaluated code and no other origin', async () => {
    const csp = (await app.inject({ url: '/', headers: { accept: HTML } })).headers['content-security-policy'] as string
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https:|\*/)
    assert.doesNotMatch(csp, /upgrade-insecure-requests/, 'plain-http local installs must keep working')
  })
})

describe('web UI not built', () => {
  let testDb: TestDatabase
  let app: FastifyInstance
  let emptyDir: string

  before(async () => {
    emptyDir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-no-ui-'))
    testDb = await createTestDatabase('pglite')
    app = await buildApp(testConfig({ WEB_DIR: emptyDir }), { db: testDb.db, logger: false })
    await app.ready()
  })
  after(async () => {
    await app.close()
    await testDb.drop()
    await rm(emptyDir, { recursive: true, force: true })
  })

  test('when dist/web has no index.html, then the API still works and / is a 404 problem', async () => {
    assert.equal((await app.inject({ url: '/livez' })).statusCode, 200)
    const root = await app.inject({ url: '/', headers: { accept: HTML } })
    assert.equal(root.statusCode, 404)
    assert.equal(root.headers['content-type'], PROBLEM)
  })
})
