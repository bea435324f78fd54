import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.js'
import { createTestDatabase, testConfig, type TestDatabase } from '../../test/support/harness.js'
import { parseResponse, RawConnection, type RawAnswer } from '../../test/support/raw-http.js'

/**
 * Each 16 KiB of an upload buys 16 s at 1 KiB/s, and the slow client below waits 1.5 s between
 * them: a margin of ten times, so a loaded machine cannot make an honest upload look like a trickle.
 */
const env = {
  HEADERS_TIMEOUT_SECONDS: '1',
  BODY_TIMEOUT_SECONDS: '1',
  IMPORT_MIN_BYTES_PER_SECOND: '1024',
  IMPORT_TIMEOUT_SECONDS: '300',
  REQUEST_TIMEOUT_SECONDS: '300',
}

// The HTTP server's timing, not the database: one engine is enough.
describe('request bodies over a slow link, over real sockets', () => {
  let testDb: TestDatabase
  let app: FastifyInstance
  let port: number
  let auth = ''

  before(async () => {
    testDb = await createTestDatabase('pglite')
    app = await buildApp(testConfig(env), { db: testDb.db, logger: false })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as AddressInfo).port
    const credentials = { email: 'slow-link@example.com', password: 'correct horse battery staple' }
    assert.equal((await app.inject({ method: 'POST', url: '/register', payload: credentials })).statusCode, 201)
    auth = `Bearer ${(await app.inject({ method: 'POST', url: '/login', payload: credentials })).json().accessToken}`
  })
  after(async () => {
    await app.close()
    await testDb.drop()
  })

  /** Writes `byte` every 200 ms until the server closes the connection (a minute at most); resolves with its answer. */
  async function trickle(head: string, byte: string): Promise<RawAnswer> {
    const connection = new RawConnection(port)
    await connection.connected
    connection.write(head)
    const timer = setInterval(() => connection.write(byte), 200)
    const giveUp = setTimeout(() => connection.destroy(), 60_000)
    try {
      return parseResponse(await connection.closed)
    } finally {
      clearInterval(timer)
      clearTimeout(giveUp)
    }
  }

  const importHead = (length: number) =>
    `POST /import?format=moodlog HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/x-ndjson\r\n` +
    `Content-Length: ${length}\r\nConnection: close\r\n\r\n`

  test('when an import arrives slowly but steadily, past BODY_TIMEOUT_SECONDS, then it is read to the end and imported', async () => {
    const line = (i: number) =>
      `${JSON.stringify({ text: `slow link ${i}`.padEnd(120, '.'), mood: 6, category: 'travel', occurredAt: '2024-05-01T18:30:00Z' })}\n`
    const file = Array.from({ length: 500 }, (_, i) => line(i)).join('')
    const chunks = Array.from({ length: 4 }, (_, i) => file.slice((i * file.length) / 4, ((i + 1) * file.length) / 4))
    assert.ok(chunks.every((chunk) => chunk.length >= 16 * 1024))

    const connection = new RawConnection(port)
    await connection.connected
    const started = Date.now()
    connection.write(importHead(Buffer.byteLength(file)) + chunks[0])
    for (const chunk of chunks.slice(1)) {
      await sleep(1500)
      connection.write(chunk)
    }
    const answer = parseResponse(await connection.closed)
    assert.ok(Date.now() - started > 4000, 'the upload took longer than BODY_TIMEOUT_SECONDS')
    assert.equal(answer.status, 200, answer.raw.slice(0, 300))
    assert.equal(JSON.parse(answer.body).created, 500)
  })

  test('when an import trickles in below IMPORT_MIN_BYTES_PER_SECOND, then the client gets 408 problem+json and is disconnected', async () => {
    const answer = await trickle(importHead(1_000_000) + '{"text":', ' ')
    assert.equal(answer.status, 408, answer.raw.slice(0, 300))
    assert.equal(answer.headers['content-type'], 'application/problem+json; charset=utf-8')
    assert.equal(JSON.parse(answer.body).type, '/problems/request-timeout')
  })

  test('when an ordinary body trickles in past BODY_TIMEOUT_SECONDS, then it is still cut with 408, however fast it trickles', async () => {
    const head =
      `POST /entries HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\n` +
      'Content-Length: 900000\r\n\r\n{"text":"'
    // 2 KiB every 200 ms: well above the upload rate, which only imports get.
    const answer = await trickle(head, 'x'.repeat(2048))
    assert.equal(answer.status, 408, answer.raw.slice(0, 300))
    assert.equal(JSON.parse(answer.body).type, '/problems/request-timeout')
  })
})
