import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { buildApp } from '../src/app.js'
import { drainAndClose } from '../src/server.js'
import testRoutes from './fixtures/slow-routes.js'
import { createTestDatabase, testConfig, type TestDatabase } from './support/harness.js'
import { exchange, parseResponse, RawConnection, type RawAnswer } from './support/raw-http.js'

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

describe('slow clients and the connection cap, over real sockets', () => {
  let testDb: TestDatabase
  let app: FastifyInstance
  let port: number

  before(async () => {
    testDb = await createTestDatabase('pglite')
    const env = { HEADERS_TIMEOUT_SECONDS: '1', BODY_TIMEOUT_SECONDS: '2', KEEP_ALIVE_TIMEOUT_SECONDS: '1', MAX_CONNECTIONS: '3' }
    app = await buildApp(testConfig(env), { db: testDb.db, logger: false, plugins: [testRoutes] })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as AddressInfo).port
  })
  after(async () => {
    await app.close()
    await testDb.drop()
  })

  /** Writes `byte` every 100 ms until the server closes the connection; resolves with its answer. */
  async function trickle(connection: RawConnection, start: string, byte: string): Promise<RawAnswer> {
    await connection.connected
    connection.write(start)
    const timer = setInterval(() => connection.write(byte), 100)
    try {
      return parseResponse(await connection.closed)
    } finally {
      clearInterval(timer)
    }
  }

  test('when the headers trickle in past HEADERS_TIMEOUT_SECONDS, then the client gets 408 problem+json and is disconnected', async () => {
    const answer = await trickle(new RawConnection(port), 'GET /livez HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n')
    assertProblem(answer, 408, '/problems/request-timeout')
  })

  test('when a connection sends nothing at all, then it is closed after the header timeout', async () => {
    const connection = new RawConnection(port)
    await connection.connected
    assertProblem(parseResponse(await connection.closed), 408, '/problems/request-timeout')
  })

  test('when a body trickles in past BODY_TIMEOUT_SECONDS, then the client gets 408 problem+json and is disconnected', async () => {
    const head = 'POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{'
    assertProblem(await trickle(new RawConnection(port), head, ' '), 408, '/problems/request-timeout')
  })

  test('when a kept-alive connection stays idle past KEEP_ALIVE_TIMEOUT_SECONDS, then the server closes it', async () => {
    const connection = new RawConnection(port)
    await connection.connected
    connection.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n')
    const answer = parseResponse(await connection.closed)
    assert.equal(answer.status, 200)
    assert.equal(answer.headers['keep-alive'], 'timeout=1')
  })

  test('when MAX_CONNECTIONS are open, then one more is closed unanswered, and a slot that frees up is usable again', async () => {
    const open = [new RawConnection(port), new RawConnection(port), new RawConnection(port)]
    // Each answered once: the server has certainly counted them.
    for (const connection of open) {
      await connection.connected
      connection.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n')
      assert.equal((await connection.firstResponse()).status, 200)
    }
    const extra = new RawConnection(port)
    extra.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.equal(await extra.closed, '', 'closed without an answer')

    open[0]!.destroy()
    await open[0]!.closed
    const count = () =>
      new Promise<number>((resolve, reject) => app.server.getConnections((error, n) => (error ? reject(error) : resolve(n))))
    while ((await count()) >= 3) await sleep(20)
    const again = await exchange(port, 'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.equal(again.status, 200)
    for (const connection of open) connection.destroy()
  })
})

describe('draining for shutdown, over real sockets', () => {
  let testDb: TestDatabase
  let app: FastifyInstance
  let port: number
  let release: () => void = () => {}
  let entered: () => void = () => {}
  const inHandler = new Promise<void>((resolve) => (entered = resolve))
  const gate = new Promise<void>((resolve) => (release = resolve))

  before(async () => {
    testDb = await createTestDatabase('pglite')
    const gated: FastifyPluginAsync = async (instance) => {
      instance.get('/test/gated', async () => {
        entered()
        await gate
        return { ok: true }
      })
    }
    // The gated request must outlive nothing but the gate.
    app = await buildApp(testConfig({ REQUEST_TIMEOUT_SECONDS: '600' }), { db: testDb.db, logger: false, plugins: [gated] })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = (app.server.address() as AddressInfo).port
  })
  after(async () => {
    release()
    await app.close()
    await testDb.drop()
  })

  test('when draining starts, then idle kept-alive connections are closed and every answer, in-flight ones too, carries Connection: close', async () => {
    const idle = new RawConnection(port)
    await idle.connected
    idle.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.equal((await idle.firstResponse()).status, 200)

    const busy = new RawConnection(port)
    await busy.connected
    busy.write('GET /test/gated HTTP/1.1\r\nHost: x\r\n\r\n')
    await inHandler

    const drained = drainAndClose(app, 60_000)
    // The idle connection is closed by the server while the slow request is still running.
    await idle.closed

    // A request on a fresh connection during the drain: 503, told to close.
    const late = await exchange(port, 'GET /me HTTP/1.1\r\nHost: x\r\n\r\n')
    assertProblem(late, 503, '/problems/shutting-down')
    assert.equal(late.headers.connection, 'close')
    // So is a probe, which still answers.
    const probe = await exchange(port, 'GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.equal(probe.status, 503)
    assert.equal(probe.headers.connection, 'close')

    release()
    const answer = parseResponse(await busy.closed)
    assert.equal(answer.status, 200)
    assert.equal(answer.headers.connection, 'close')
    await drained
  })
})
