import assert from 'node:assert/strict'
import { once } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.js'
import { createTestDatabase, testConfig, type TestDatabase } from '../../test/support/harness.js'
import { seedJournal } from '../../test/support/journal.js'
import { parseResponse, RawConnection, type RawAnswer } from '../../test/support/raw-http.js'
import { signUp } from '../../test/support/users.js'

/**
 * An upload's bytes buy time at 1 KiB/s, and the steady client below sends 19 KiB every 200 ms:
 * it keeps the rate eighty times over, and its pauses are a tenth of the 2 s idle limit, so a
 * loaded machine cannot make an honest upload look like a trickle. Every wait for the server to cut
 * a connection gives up after 20 s, ten times the bound under test.
 */
const env = {
  HEADERS_TIMEOUT_SECONDS: '1',
  BODY_TIMEOUT_SECONDS: '2',
  IMPORT_MIN_BYTES_PER_SECOND: '1024',
  IMPORT_TIMEOUT_SECONDS: '300',
  REQUEST_TIMEOUT_SECONDS: '300',
}
const GIVE_UP_MS = 20_000

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
    auth = await signedUp('slow-link@example.com')
  })
  async function signedUp(email: string): Promise<string> {
    const credentials = { email, password: 'correct horse battery staple' }
    assert.equal((await app.inject({ method: 'POST', url: '/register', payload: credentials })).statusCode, 201)
    return `Bearer ${(await app.inject({ method: 'POST', url: '/login', payload: credentials })).json().accessToken}`
  }

  after(async () => {
    await app.close()
    await testDb.drop()
  })

  /**
   * Writes `byte` every 200 ms (never, when it is empty) until the server closes the connection;
   * resolves with its answer and whether it was the server that closed, within GIVE_UP_MS.
   */
  async function trickle(head: string, byte: string): Promise<RawAnswer & { closedByServer: boolean }> {
    const connection = new RawConnection(port)
    await connection.connected
    connection.write(head)
    const timer = byte ? setInterval(() => connection.write(byte), 200) : undefined
    let gaveUp = false
    const giveUp = setTimeout(() => {
      gaveUp = true
      connection.destroy()
    }, GIVE_UP_MS)
    try {
      return { ...parseResponse(await connection.closed), closedByServer: !gaveUp }
    } finally {
      clearInterval(timer)
      clearTimeout(giveUp)
    }
  }

  /**
   * Each import test signs up an account of its own: an account runs one import at a time, and a
   * cut import lets go of its turn only once its handler has seen the error, after the client has.
   */
  let importers = 0
  const importHead = async (length: number) =>
    `POST /import?format=moodlog HTTP/1.1\r\nHost: x\r\nAuthorization: ${await signedUp(`importer-${++importers}@example.com`)}\r\nContent-Type: application/x-ndjson\r\n` +
    `Content-Length: ${length}\r\nConnection: close\r\n\r\n`

  const ndjsonLine = (i: number) =>
    `${JSON.stringify({ text: `slow link ${i}`.padEnd(120, '.'), mood: 6, category: 'travel', occurredAt: '2024-05-01T18:30:00Z' })}\n`

  test('when an import arrives slowly but steadily, past BODY_TIMEOUT_SECONDS, then it is read to the end and imported', async () => {
    const file = Array.from({ length: 1500 }, (_, i) => ndjsonLine(i)).join('')
    const parts = 15
    const chunks = Array.from({ length: parts }, (_, i) => file.slice((i * file.length) / parts, ((i + 1) * file.length) / parts))
    assert.ok(chunks.every((chunk) => chunk.length >= 16 * 1024))

    const connection = new RawConnection(port)
    await connection.connected
    const started = Date.now()
    connection.write((await importHead(Buffer.byteLength(file))) + chunks[0])
    for (const chunk of chunks.slice(1)) {
      await sleep(200)
      connection.write(chunk)
    }
    const answer = parseResponse(await connection.closed)
    assert.ok(Date.now() - started > 2000, 'the upload took longer than BODY_TIMEOUT_SECONDS')
    assert.equal(answer.status, 200, answer.raw.slice(0, 300))
    assert.equal(JSON.parse(answer.body).created, 1500)
  })

  test('when an import sends a good start and then nothing more, then it is cut with 408 once idle, whatever its bytes earned', async () => {
    // 256 KiB earn 256 s at 1 KiB/s; silence must not be able to spend them.
    let start = ''
    for (let i = 0; Buffer.byteLength(start) < 256 * 1024; i++) start += ndjsonLine(i)
    const answer = await trickle((await importHead(10 * 1024 * 1024)) + start, '')
    assert.ok(answer.closedByServer, 'the server closed the idle upload')
    assert.equal(answer.status, 408, answer.raw.slice(0, 300))
    assert.equal(JSON.parse(answer.body).type, '/problems/request-timeout')
  })

  test('when an import trickles in below IMPORT_MIN_BYTES_PER_SECOND, then the client gets 408 problem+json and is disconnected', async () => {
    const answer = await trickle((await importHead(1_000_000)) + '{"text":', ' ')
    assert.ok(answer.closedByServer, 'the server closed the trickle')
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
    assert.ok(answer.closedByServer, 'the server closed the trickle')
    assert.equal(answer.status, 408, answer.raw.slice(0, 300))
    assert.equal(JSON.parse(answer.body).type, '/problems/request-timeout')
  })
  // Fastify answers these before routing, without running a single hook.
  for (const [name, head, status, type] of [
    ['a URL that does not decode', 'POST /%zz HTTP/1.1', 400, '/problems/invalid-url'],
    ['a path parameter over 100 characters', `PATCH /entries/${'a'.repeat(150)} HTTP/1.1`, 414, '/problems/uri-too-long'],
  ] as const) {
    test(`when a body trickles in after ${name}, then the problem is answered and the connection closed`, async () => {
      const answer = await trickle(
        `${head}\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n{"text":"`,
        'x',
      )
      assert.ok(answer.closedByServer, 'the server closed the connection')
      assert.equal(answer.status, status, answer.raw.slice(0, 300))
      assert.equal(JSON.parse(answer.body).type, type)
    })
  }
  for (const [name, head] of [
    ['POST /entries', 'POST /entries HTTP/1.1'],
    ['POST /import', 'POST /import?format=moodlog HTTP/1.1'],
  ] as const) {
    test(`when ${name} is answered before its body has arrived, then the rest is cut within BODY_TIMEOUT_SECONDS, with that one answer`, async () => {
      // No token: 401 before the body is read. The body would take 1,000,000 s at 1 byte a second.
      const answer = await trickle(
        `${head}\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n${'{}\n'.repeat(20_000)}`,
        ' ',
      )
      assert.ok(answer.closedByServer, 'the server closed the connection')
      assert.equal(answer.status, 401, answer.raw.slice(0, 300))
      assert.equal(answer.raw.split('HTTP/1.1 ').length - 1, 1, `one answer only: ${answer.raw.slice(0, 600)}`)
    })
  }

  test('when a request with a small body that has fully arrived is refused (401), then the connection stays open for the next request', async () => {
    const connection = new RawConnection(port)
    await connection.connected
    const body = JSON.stringify({ text: 'hello', mood: 5 })
    connection.write(
      `POST /entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
    const first = await connection.firstResponse()
    assert.equal(first.status, 401, first.raw.slice(0, 300))
    assert.notEqual(first.headers.connection, 'close')
    connection.write('GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    const raw = await connection.closed
    assert.equal(raw.split('HTTP/1.1 ').length - 1, 2, `two answers on one connection: ${raw.slice(0, 600)}`)
  })
})

describe('answers a client stops reading, over real sockets', () => {
  let testDb: TestDatabase
  let app: FastifyInstance
  let port: number

  before(async () => {
    testDb = await createTestDatabase('pglite')
    app = await buildApp(testConfig(env), { db: testDb.db, logger: false })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as AddressInfo).port
  })
  after(async () => {
    await app.close()
    await testDb.drop()
  })

  test('when a client stops reading a large export, then it is cut once it has taken nothing for BODY_TIMEOUT_SECONDS, and the account exports again', async () => {
    const user = await signUp({ app, backend: 'pglite', db: testDb.db, config: app.config, request: (o) => app.inject(o) as never })
    // About 17 MB of NDJSON: more than the socket's buffers take while the client reads nothing.
    await seedJournal(testDb.db, user.id, 10_000)
    // The server's end of the connection: a paused client would not notice a close until it read again.
    const accepted = once(app.server, 'connection') as Promise<[net.Socket]>
    const socket = net.connect(port, '127.0.0.1')
    socket.on('error', () => {})
    await once(socket, 'connect')
    const [serverSide] = await accepted
    socket.write(`GET /export HTTP/1.1\r\nHost: x\r\nAuthorization: ${user.auth.authorization}\r\n\r\n`)
    // The first bytes show the export has started; then the client reads nothing more.
    await once(socket, 'data')
    socket.pause()
    let gaveUp = false
    const giveUp = setTimeout(() => {
      gaveUp = true
      serverSide.destroy()
    }, GIVE_UP_MS)
    await once(serverSide, 'close')
    clearTimeout(giveUp)
    socket.destroy()
    assert.ok(!gaveUp, 'the server cut the stalled download')

    const again = await app.inject({ method: 'GET', url: '/export', headers: user.auth })
    assert.equal(again.statusCode, 200, again.body.slice(0, 200))
    assert.equal(again.body.trimEnd().split('\n').length, 10_001)
  })
})
