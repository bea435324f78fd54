import assert from 'node:assert/strict'
import http from 'node:http'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { backendNames } from './support/harness.js'
import { databaseEnv, runProcess, startServerProcess, type ServerProcess } from './support/process.js'

interface Answer {
  status: number
  body: string
  headers: http.IncomingHttpHeaders
}

function get(url: string, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.on('data', (chunk) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
  })
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

// Every rule of the configuration is a unit test of loadConfig (src/config.test.ts); this shows
// once what an operator sees when one is broken: a message naming it and a non-zero exit.
test('when a variable has a bad value, then start fails with a message naming it and exit code 1', async () => {
  const result = await runProcess('src/server.ts', [], { PORT: 'abc', JWT_SECRET: 'x'.repeat(40) })
  assert.equal(result.code, 1, result.output)
  assert.match(result.output, /^moodlog: PORT must be a whole number, got "abc"$/m)
})

for (const backend of backendNames()) {
  describe(`server process [${backend}]`, () => {
    const cleanups: Array<() => Promise<unknown>> = []
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup()
    })

    async function start(env: Record<string, string>): Promise<ServerProcess> {
      const server = await startServerProcess({ MIGRATE_ON_START: 'true', ...env })
      cleanups.push(async () => {
        if (server.child.exitCode === null) server.child.kill('SIGKILL')
      })
      return server
    }

    test('when SIGTERM arrives with 100 slow requests in flight, then all complete, /readyz is 503 during the drain and the exit code is 0', async () => {
      const server = await start(await databaseEnv(backend, cleanups))
      const agent = new http.Agent({ keepAlive: false, maxSockets: 200 })
      const slow = Array.from({ length: 100 }, () => get(`${server.url}/test/slow?ms=5000`, agent))
      await waitFor(() => (server.output().match(/"url":"\/test\/slow/g) ?? []).length >= 100, 10_000, '100 requests in flight')

      server.child.kill('SIGTERM')
      await waitFor(() => server.output().includes('shutting down'), 5000, 'shutdown to start')
      const readyz = await get(`${server.url}/readyz`, agent)
      const late = await get(`${server.url}/test/slow?ms=1`, agent)

      const answers = await Promise.all(slow)
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(100).fill(200),
      )
      assert.equal(readyz.status, 503)
      assert.equal(JSON.parse(readyz.body).status, 'unavailable')
      assert.equal(late.status, 503)
      assert.equal(JSON.parse(late.body).type, '/problems/shutting-down')
      assert.equal(late.headers['x-content-type-options'], 'nosniff', 'the shutdown answer carries the security headers too')
      assert.equal(await server.exited, 0)
      assert.match(server.output(), /shutdown complete/)
    })

    test('when a second signal arrives during the drain, then the process exits at once', async () => {
      // A long shutdown budget, so that only the second signal can explain a prompt exit.
      const server = await start({ ...(await databaseEnv(backend, cleanups)), SHUTDOWN_TIMEOUT_SECONDS: '60' })
      const agent = new http.Agent({ keepAlive: false })
      const pending = get(`${server.url}/test/slow?ms=30000`, agent).catch(() => undefined)
      await waitFor(() => server.output().includes('/test/slow'), 10_000, 'the slow request')
      const signalled = Date.now()
      server.child.kill('SIGTERM')
      await waitFor(() => server.output().includes('shutting down'), 5000, 'shutdown to start')
      server.child.kill('SIGINT')
      const code = await server.exited
      assert.ok(Date.now() - signalled < 15_000, 'exited long before the slow request or the shutdown budget would have ended')
      assert.equal(code, 1)
      await pending
    })

    if (backend === 'pglite') {
      test('when the server stops and starts again on the same DATA_DIR, then accounts and tokens survive', async () => {
        const env = await databaseEnv(backend, cleanups)
        delete (env as Record<string, string | undefined>).JWT_SECRET
        const noSecret = { ...env, JWT_SECRET: '' }
        const first = await start(noSecret)
        const credentials = { email: 'persist@example.test', password: 'survives a restart' }
        const post = (url: string, path: string, body: unknown) =>
          fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        assert.equal((await post(first.url, '/register', credentials)).status, 201)
        const { accessToken } = (await (await post(first.url, '/login', credentials)).json()) as { accessToken: string }
        first.child.kill('SIGTERM')
        assert.equal(await first.exited, 0)

        const second = await start(noSecret)
        assert.equal((await post(second.url, '/login', credentials)).status, 200)
        // The generated JWT secret was kept in DATA_DIR: the old access token is still valid.
        const me = await fetch(`${second.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })
        assert.equal(me.status, 200)
        assert.equal(((await me.json()) as { email: string }).email, credentials.email)
        second.child.kill('SIGTERM')
        assert.equal(await second.exited, 0)
      })

      test('when a second process opens the same DATA_DIR, then it exits at once with the lock message', async () => {
        const env = await databaseEnv(backend, cleanups)
        const first = await start(env)
        const second = await runProcess(
          'test/fixtures/server.ts',
          [],
          { ...env, PORT: '0', JWT_SECRET: 'x'.repeat(40), LOG_LEVEL: 'silent' },
          // Bounded, not tight: on a loaded 2-core machine tsx alone can take 20 s before the lock is tried.
          120_000,
        )
        assert.equal(second.code, 1)
        assert.match(second.output, /DATA_DIR .* is in use by another moodlog process/)
        // The first one is unharmed.
        assert.equal((await get(`${first.url}/health`, new http.Agent())).status, 200)
        first.child.kill('SIGTERM')
        assert.equal(await first.exited, 0)
      })
    }
  })
}
