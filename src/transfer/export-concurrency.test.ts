import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Readable } from 'node:stream'
import { test } from 'node:test'
import { buildApp } from '../app.js'
import { describeEachBackend, type Harness } from '../../test/support/harness.js'
import { createEntry } from '../../test/support/entries.js'
import { seedJournal } from '../../test/support/journal.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

function exportOf(h: Harness, user: SignedIn) {
  return h.request({ method: 'GET', url: '/export', headers: user.auth })
}

function assertExportInProgress(res: { statusCode: number; body: string; headers: Record<string, unknown>; json(): any }): void {
  assert.equal(res.statusCode, 409, res.body.slice(0, 200))
  assert.match(res.headers['content-type'] as string, /^application\/problem\+json/)
  assert.equal(res.json().type, '/problems/export-in-progress')
}

async function linesOf(body: Readable): Promise<number> {
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').trimEnd().split('\n').length
}

describeEachBackend('GET /export, one at a time per account', (h) => {
  test('when an account has an export still being sent, then its second is 409, another account exports, and after the first ends a new one is 200', async () => {
    const ada = await signUp(h)
    // About 4 MB of NDJSON: the unread response below stops the export long before its end.
    await seedJournal(h.db, ada.id)
    const bob = await signUp(h)
    await createEntry(h, bob, { text: 'mine', mood: 5, category: 'home' })

    // A response whose body nobody reads: the export waits on its backpressure, in progress.
    const first = await h.app.inject({ method: 'GET', url: '/export', headers: ada.auth, payloadAsStream: true })
    assert.equal(first.statusCode, 200)
    const firstBody = first.stream()
    // Listened to after the route's own listener, which gives the account's slot back.
    const firstOver = once(first.raw.res, 'close')
    try {
      assertExportInProgress(await exportOf(h, ada))
      assertExportInProgress(await h.request({ method: 'GET', url: '/export?format=csv', headers: ada.auth }))

      const others = await exportOf(h, bob)
      assert.equal(others.statusCode, 200, others.body)
      assert.equal(others.body.trimEnd().split('\n').length, 2)
    } finally {
      assert.equal(await linesOf(firstBody), 2501, 'the first export arrives whole')
    }
    await firstOver

    const again = await exportOf(h, ada)
    assert.equal(again.statusCode, 200, again.body.slice(0, 200))
    assert.equal(again.body.trimEnd().split('\n').length, 2501)
  })

  test('when the client of an export disconnects mid-download, then the account can export again', async () => {
    const user = await signUp(h)
    // About 17 MB of NDJSON: more than the socket's buffers can take while the client reads nothing.
    await seedJournal(h.db, user.id, 10_000)
    const app = await buildApp(h.config, { db: h.db, logger: false })
    let request: http.ClientRequest | undefined
    try {
      const responses: http.ServerResponse[] = []
      app.server.on('request', (_request: http.IncomingMessage, response: http.ServerResponse) => responses.push(response))
      await app.listen({ port: 0, host: '127.0.0.1' })
      const { port } = app.server.address() as AddressInfo
      request = http.get({ port, host: '127.0.0.1', path: '/export', headers: user.auth })
      const [response] = (await once(request, 'response')) as [http.IncomingMessage]
      assert.equal(response.statusCode, 200)
      response.pause()
      const sending = responses[0]!
      // Registered before the route's own listener: awaited, it resumes after the slot was given back.
      const over = once(sending, 'close')
      // Polls a condition, not a clock: the export is held once the server's writes wait for the socket.
      while (!sending.writableNeedDrain && !sending.writableFinished) await new Promise((resolve) => setTimeout(resolve, 20))
      assert.ok(!sending.writableFinished, 'the export is still being sent')
      assertExportInProgress(await app.inject({ method: 'GET', url: '/export', headers: user.auth }))

      request.destroy()
      await over
      assert.ok(!sending.writableFinished, 'the export was cut off, not completed')
      const again = await app.inject({ method: 'GET', url: '/export', headers: user.auth })
      assert.equal(again.statusCode, 200, again.body.slice(0, 200))
      assert.equal(again.body.trimEnd().split('\n').length, 10_001)
    } finally {
      // A paused download would keep the app from closing.
      request?.destroy()
      await app.close()
    }
  })
})
