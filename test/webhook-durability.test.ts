import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { backendNames, createTestDatabase, type TestDatabase } from './support/harness.js'
import { databaseEnv, startServerProcess, type ServerProcess } from './support/process.js'
import { startReceiver, type Answer, type Receiver } from './support/webhook-receiver.js'

// Real processes on a real database: what survives kill -9 and SIGTERM is decided by what was
// committed, not by anything in memory. Receivers listen on 127.0.0.1.
const WEBHOOK_ENV = { WEBHOOKS: 'on', WEBHOOKS_ALLOW_HTTP: 'true', WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true', MIGRATE_ON_START: 'true' }

interface Account {
  auth: { authorization: string }
}

async function call(server: ServerProcess, method: string, url: string, body?: unknown, account?: Account) {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...account?.auth },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

async function signUp(server: ServerProcess): Promise<Account> {
  const credentials = { email: `durable-${randomUUID()}@example.test`, password: 'kept through a crash' }
  assert.equal((await call(server, 'POST', '/register', credentials)).status, 201)
  const login = await call(server, 'POST', '/login', credentials)
  assert.equal(login.status, 200)
  return { auth: { authorization: `Bearer ${login.body.accessToken}` } }
}

async function register(server: ServerProcess, account: Account, url: string): Promise<number> {
  const res = await call(server, 'POST', '/webhooks', { url }, account)
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res.body.id
}

async function createEntry(server: ServerProcess, account: Account, text: string): Promise<number> {
  const res = await call(server, 'POST', '/entries', { text, mood: 7, category: 'durable' }, account)
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res.body.id
}

async function deliveries(server: ServerProcess, account: Account, webhookId: number) {
  const res = await call(server, 'GET', `/webhooks/${webhookId}/deliveries`, undefined, account)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body.items as Array<{ eventId: string; status: string; attempts: Array<{ statusCode: number | null; error: string | null }> }>
}

/** Polls until `check` holds; every wait here ends on an event (a request, a row), never on a fixed sleep. */
async function until<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (check(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`)
    await sleep(100)
  }
}

/** Waits for the receiver's n-th request; a delivery that never comes fails with what the server logged. */
async function received(r: Receiver, count: number, server: ServerProcess, timeoutMs = 60_000): Promise<void> {
  const timer = sleep(timeoutMs, 'timeout' as const, { ref: false })
  const outcome = await Promise.race([r.waitFor(count).then(() => 'arrived' as const), timer])
  if (outcome === 'timeout')
    throw new Error(`${count} deliveries expected, ${r.received.length} arrived; server output:\n${server.output()}`)
}

for (const backend of backendNames()) {
  describe(`webhook durability across process deaths [${backend}]`, () => {
    const cleanups: Array<() => Promise<unknown>> = []
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup()
    })

    async function start(env: Record<string, string>): Promise<ServerProcess> {
      const server = await startServerProcess({ ...WEBHOOK_ENV, ...env })
      cleanups.push(async () => {
        if (server.child.exitCode === null) server.child.kill('SIGKILL')
      })
      return server
    }
    async function receiver(answers: Answer[] = []): Promise<Receiver> {
      const r = await startReceiver(answers)
      cleanups.push(() => r.close())
      return r
    }

    test('when moodlog is killed -9 after an entry committed and before its delivery, then the restarted instance delivers it once', async () => {
      const env = { ...(await databaseEnv(backend, cleanups)), JWT_SECRET: 'k'.repeat(40) }
      const r = await receiver()
      // No worker in the first life: the event can only be in the database when the process dies.
      const first = await start({ ...env, WEBHOOKS: 'off' })
      const account = await signUp(first)
      const webhookId = await register(first, account, r.url)
      await createEntry(first, account, 'written just before the crash')
      first.child.kill('SIGKILL')
      assert.equal(await first.exited, 'SIGKILL')
      assert.equal(r.received.length, 0)

      const second = await start(env)
      await received(r, 1, second)
      const [delivery, ...others] = await until(
        'the delivery to be recorded',
        () => deliveries(second, account, webhookId),
        (items) => items[0]?.status === 'succeeded',
      )
      assert.equal(others.length, 0)
      assert.equal(r.received[0]!.headers['webhook-id'], delivery!.eventId)
      assert.equal(JSON.parse(r.received[0]!.body).type, 'entry.created')
      assert.deepEqual(
        delivery!.attempts.map((a) => a.statusCode),
        [200],
      )
      assert.equal(r.received.length, 1)
      second.child.kill('SIGTERM')
      assert.equal(await second.exited, 0)
    })

    test('when SIGTERM arrives during a delivery, then the attempt finishes, is recorded, and the process exits 0', async () => {
      const env = { ...(await databaseEnv(backend, cleanups)), JWT_SECRET: 's'.repeat(40), SHUTDOWN_TIMEOUT_SECONDS: '30' }
      const r = await receiver(['hang'])
      const server = await start(env)
      const account = await signUp(server)
      const webhookId = await register(server, account, r.url)
      await createEntry(server, account, 'in flight at shutdown')
      await received(r, 1, server)

      server.child.kill('SIGTERM')
      await until(
        'shutdown to start',
        async () => server.output(),
        (output) => output.includes('shutting down'),
      )
      r.received[0]!.response.writeHead(200).end('late but fine')
      assert.equal(await server.exited, 0)

      // The next life has no worker: what it shows was recorded by the one that shut down.
      const next = await start({ ...env, WEBHOOKS: 'off' })
      const [delivery] = await deliveries(next, account, webhookId)
      assert.equal(delivery!.status, 'succeeded')
      assert.deepEqual(
        delivery!.attempts.map((a) => a.statusCode),
        [200],
      )
      next.child.kill('SIGTERM')
      assert.equal(await next.exited, 0)
    })

    test('when a delivery is still in flight when the shutdown budget runs out, then it is handed back and the next start sends it again with the same webhook-id', async () => {
      const env = { ...(await databaseEnv(backend, cleanups)), JWT_SECRET: 'h'.repeat(40) }
      const r = await receiver(['hang', { status: 204 }])
      const first = await start({ ...env, SHUTDOWN_TIMEOUT_SECONDS: '3' })
      const account = await signUp(first)
      const webhookId = await register(first, account, r.url)
      await createEntry(first, account, 'interrupted at shutdown')
      await received(r, 1, first)
      first.child.kill('SIGTERM')
      assert.equal(await first.exited, 0, first.output())
      assert.match(first.output(), /webhook deliveries still in flight at shutdown; interrupted/)

      // Handed back rather than left leased: the next start sends it at once, not a lease later.
      const second = await start(env)
      await received(r, 2, second)
      const [delivery] = await until(
        'the retried delivery to be recorded',
        () => deliveries(second, account, webhookId),
        (items) => items[0]?.status === 'succeeded',
      )
      assert.equal(r.received[1]!.headers['webhook-id'], r.received[0]!.headers['webhook-id'])
      assert.equal(delivery!.eventId, r.received[0]!.headers['webhook-id'])
      assert.equal(delivery!.attempts.at(-1)!.statusCode, 204)
      second.child.kill('SIGTERM')
      assert.equal(await second.exited, 0)
    })
  })
}

if (process.env.TEST_DATABASE_URL) {
  describe('two instances delivering from one server database', () => {
    const servers: ServerProcess[] = []
    let testDb: TestDatabase
    let r: Receiver
    after(async () => {
      for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL')
      await r?.close()
      await testDb?.drop()
    })

    test('when 200 events are written through two instances, then each is delivered exactly once', async () => {
      testDb = await createTestDatabase('postgres')
      r = await startReceiver()
      const env = { ...WEBHOOK_ENV, DATABASE_URL: testDb.url!, JWT_SECRET: 't'.repeat(40), WEBHOOKS_CONCURRENCY: '4' }
      servers.push(...(await Promise.all([startServerProcess(env), startServerProcess(env)])))
      const [a, b] = servers as [ServerProcess, ServerProcess]
      // Ten accounts with an endpoint each: leases are one per endpoint at a time, so ten give
      // both workers something to compete for.
      const accounts = await Promise.all(Array.from({ length: 10 }, (_, i) => signUp(i % 2 ? b : a)))
      await Promise.all(accounts.map((account, i) => register(i % 2 ? a : b, account, r.url)))
      for (let round = 0; round < 20; round++) {
        await Promise.all(accounts.map((account, i) => createEntry((i + round) % 2 ? a : b, account, `event ${round}`)))
      }

      await until(
        'every delivery to be recorded',
        async () =>
          (await testDb.db.query<{ n: number }>(`select count(*)::int as n from webhook_deliveries where status <> 'succeeded'`))[0]!.n,
        (pending) => pending === 0,
        120_000,
      )
      const ids = r.received.map((request) => request.headers['webhook-id'])
      assert.equal(ids.length, 200)
      assert.equal(new Set(ids).size, 200, 'no event was sent twice')
      const stored = await testDb.db.query<{ n: number }>(`select count(distinct event_id)::int as n from webhook_deliveries`)
      assert.equal(stored[0]!.n, 200)

      // Both instances' counters together: 200 successes, none counted twice.
      const succeeded = await Promise.all(
        servers.map(async (server) => {
          const text = await (await fetch(`${server.url}/metrics`)).text()
          return Number(/^moodlog_webhook_deliveries_total\{outcome="succeeded"\} (\d+)$/m.exec(text)?.[1] ?? 0)
        }),
      )
      assert.equal(
        succeeded.reduce((sum, n) => sum + n, 0),
        200,
        `per instance: ${succeeded.join(' + ')}`,
      )
    })
  })
}
