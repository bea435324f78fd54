import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { createTestDatabase, testConfig, type TestDatabase } from './support/harness.js'
import { exchange, type RawAnswer } from './support/raw-http.js'

const PROBLEM = 'application/problem+json; charset=utf-8'

/** Every problem answer, wherever it was made: the documented shape and no framework codes. */
function assertProblem(answer: RawAnswer, status: number, type: string): void {
  assert.equal(answer.status, status, answer.raw.slice(0, 300))
  assert.equal(answer.headers['content-type'], PROBLEM)
  assert.equal(answer.headers['x-content-type-options'], 'nosniff', 'security headers on early errors too')
  assert.doesNotMatch(answer.body, /FST_ERR/)
  const body = JSON.parse(answer.body)
  assert.equal(body.status, status)
  assert.equal(body.type, type)
  assert.equal(typeof body.title, 'string')
  assert.equal(typeof body.detail, 'string')
  assert.equal(typeof body.instance, 'string')
  assert.equal(body.requestId, answer.headers['x-request-id'])
}

// These exercise the HTTP server itself, not the database: one engine is enough.
describe('errors made before routing, over a real socket', () => {
  let testDb: TestDatabase
  let app: FastifyInstance
  let port: number

  before(async () => {
    testDb = await createTestDatabase('pglite')
    app = await buildApp(testConfig(), { db: testDb.db, logger: false })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as AddressInfo).port
  })
  after(async () => {
    await app.close()
    await testDb.drop()
  })

  test('when the URL is not validly percent-encoded, then 400 problem+json', async () => {
    const answer = await exchange(port, 'GET /entries/% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assertProblem(answer, 400, '/problems/invalid-url')
    assert.equal(JSON.parse(answer.body).instance, '/entries/%')
  })

  test('when a path parameter is longer than the router allows, then 414 problem+json', async () => {
    const answer = await exchange(port, `GET /entries/${'1'.repeat(200)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    assertProblem(answer, 414, '/problems/uri-too-long')
  })

  test('when the URL or the headers exceed 16 KiB, then 431 problem+json and the connection is closed', async () => {
    assertProblem(await exchange(port, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 431, '/problems/headers-too-large')
    assertProblem(
      await exchange(port, `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`),
      431,
      '/problems/headers-too-large',
    )
  })

  test('when the request is not HTTP the parser accepts, then 400 problem+json and the connection is closed', async () => {
    for (const data of [
      'HELLO\r\n\r\n',
      'POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'GET /livez HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
    ]) {
      assertProblem(await exchange(port, data), 400, '/problems/malformed-request')
    }
  })

  test('when chunk extensions are too large, then 413 problem+json', async () => {
    const answer = await exchange(
      port,
      `POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;${'e'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`,
    )
    assertProblem(answer, 413, '/problems/body-too-large')
  })

  test('when a body is larger than 1 MiB, sized or chunked, then 413 problem+json', async () => {
    assertProblem(
      await exchange(port, 'POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n'),
      413,
      '/problems/body-too-large',
    )
    const chunk = 'x'.repeat(512 * 1024)
    const size = chunk.length.toString(16)
    assertProblem(
      await exchange(
        port,
        `POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
          `${size}\r\n${chunk}\r\n`.repeat(3) +
          '0\r\n\r\n',
      ),
      413,
      '/problems/body-too-large',
    )
  })
})
