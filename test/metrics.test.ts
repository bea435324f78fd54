import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { backendNames, createTestDatabase, testConfig, type TestDatabase } from './support/harness.js'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** The samples of a Prometheus text exposition. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match) continue
    const labels: Record<string, string> = {}
    for (const [, key, value] of match[2]?.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[key!] = value!
    samples.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return samples
}

/** The value of the one sample of `name` whose labels include `labels` (0 when there is none yet). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  assert.ok(found.length <= 1, `one ${name} sample for ${JSON.stringify(labels)}`)
  return found[0]?.value ?? 0
}

async function scrape(app: FastifyInstance): Promise<Sample[]> {
  const response = await app.inject({ url: '/metrics' })
  assert.equal(response.statusCode, 200)
  assert.match(response.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/)
  return parseMetrics(response.body)
}

for (const backend of backendNames()) {
  describe(`metrics [${backend}]`, () => {
    let testDb: TestDatabase
    let app: FastifyInstance
    before(async () => {
      testDb = await createTestDatabase(backend)
      app = await buildApp(testConfig({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_SECONDS: '600' }), { db: testDb.db, logger: false })
      await app.ready()
    })
    after(async () => {
      await app.close()
      await testDb.drop()
    })

    test('when /metrics is scraped, then the request, database, cache, rate-limit and process series are there', async () => {
      const names = new Set((await scrape(app)).map((s) => s.name))
      for (const name of [
        'moodlog_db_pool_size',
        'moodlog_db_pool_in_use',
        'moodlog_db_pool_waiting',
        'moodlog_cache_hits_total',
        'moodlog_cache_misses_total',
        'moodlog_rate_limit_rejections_total',
        'moodlog_password_checks_dropped_total',
        'process_cpu_user_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
      ]) {
        assert.ok(names.has(name), `${name} is exposed`)
      }
      // The first scrape is itself counted once it has been answered.
      const samples = await scrape(app)
      assert.ok(valueOf(samples, 'moodlog_http_requests_total', { route: '/metrics', method: 'GET', status: '200' }) >= 1)
      assert.ok(valueOf(samples, 'moodlog_http_request_duration_seconds_count', { route: '/metrics' }) >= 1)
      for (const usage of app.db.usage()) assert.equal(valueOf(samples, 'moodlog_db_pool_size', { pool: usage.pool }), usage.size)
      assert.equal(
        valueOf(samples, 'moodlog_db_pool_size', { pool: 'scans' }),
        backend === 'postgres' ? 2 : 0,
        'a scan pool in server mode only',
      )
    })

    test('when a request is answered, then it is counted under its route pattern, never the raw URL', async () => {
      const labels = { method: 'GET', route: '/entries/:id', status: '401' }
      const before = await scrape(app)
      const response = await app.inject({ url: '/entries/12345' })
      assert.equal(response.statusCode, 401)
      const after = await scrape(app)
      assert.equal(valueOf(after, 'moodlog_http_requests_total', labels), valueOf(before, 'moodlog_http_requests_total', labels) + 1)
      assert.equal(
        valueOf(after, 'moodlog_http_request_duration_seconds_count', labels),
        valueOf(before, 'moodlog_http_request_duration_seconds_count', labels) + 1,
      )
      assert.ok(!after.some((s) => s.labels.route?.includes('12345')), 'no series carries the raw URL')

      await app.inject({ url: '/no/such/route/4711' })
      const unmatched = valueOf(await scrape(app), 'moodlog_http_requests_total', { route: '<unmatched>', status: '404' })
      assert.ok(unmatched >= 1, 'unknown URLs share one label value')
    })

    test('when a transaction is open, then the pool reports a connection in use', async () => {
      let release!: () => void
      const held = new Promise<void>((resolve) => (release = resolve))
      const transaction = app.db.transaction(async (tx) => {
        await tx.query('select 1')
        await held
      })
      try {
        assert.equal(valueOf(await scrape(app), 'moodlog_db_pool_in_use', { pool: 'main' }), 1)
      } finally {
        release()
        await transaction
      }
      assert.equal(valueOf(await scrape(app), 'moodlog_db_pool_in_use', { pool: 'main' }), 0)
    })

    test('when the cache is read, then hits and misses are counted', async () => {
      // A real account: a miss keeps its page only while its user exists (erasure may race a read).
      const [user] = await app.db.query<{ id: number }>(
        `insert into users (email, password_hash) values ('metrics-probe@example.test', 'x') returning id`,
      )
      const before = await scrape(app)
      const compute = async () => 42
      await app.cache.remember(user!.id, 'metrics-probe', { n: 1 }, compute)
      await app.cache.remember(user!.id, 'metrics-probe', { n: 1 }, compute)
      const after = await scrape(app)
      assert.equal(valueOf(after, 'moodlog_cache_misses_total'), valueOf(before, 'moodlog_cache_misses_total') + 1)
      assert.equal(valueOf(after, 'moodlog_cache_hits_total'), valueOf(before, 'moodlog_cache_hits_total') + 1)
    })

    test('when the general rate limit refuses requests, then they are counted, and /metrics itself is never limited', async () => {
      const ip = '203.0.113.9'
      const statuses: number[] = []
      for (let i = 0; i < 5; i++) statuses.push((await app.inject({ url: '/me', remoteAddress: ip })).statusCode)
      assert.deepEqual(statuses, [401, 401, 401, 429, 429])
      for (let i = 0; i < 5; i++) {
        assert.equal((await app.inject({ url: '/metrics', remoteAddress: ip })).statusCode, 200)
      }
      assert.equal(valueOf(await scrape(app), 'moodlog_rate_limit_rejections_total'), 2)
    })
  })
}

describe('metrics on METRICS_PORT', () => {
  let testDb: TestDatabase
  let app: FastifyInstance
  before(async () => {
    testDb = await createTestDatabase('pglite')
    app = await buildApp(testConfig({ METRICS_PORT: '0' }), { db: testDb.db, logger: false })
    await app.ready()
  })
  after(async () => {
    await app.close()
    await testDb.drop()
  })

  test('when METRICS_PORT is set, then /metrics is served there only, and the listener closes with the app', async () => {
    assert.equal((await app.inject({ url: '/livez' })).statusCode, 200)
    assert.equal((await app.inject({ url: '/metrics' })).statusCode, 404, 'not on the API port')

    const address = app.metrics.address()
    assert.ok(address, 'the metrics listener is open')
    const base = `http://127.0.0.1:${address.port}`
    const response = await fetch(`${base}/metrics`)
    assert.equal(response.status, 200)
    const samples = parseMetrics(await response.text())
    assert.equal(valueOf(samples, 'moodlog_http_requests_total', { route: '/livez', status: '200' }), 1)
    assert.equal((await fetch(`${base}/livez`)).status, 404, 'nothing of the API on the metrics port')

    await app.close()
    await assert.rejects(fetch(`${base}/metrics`), 'the listener is closed')
  })
})

describe('metrics guarded by METRICS_TOKEN', () => {
  const token = 'a-metrics-token-0123456789'
  const apps: FastifyInstance[] = []
  let testDb: TestDatabase
  before(async () => {
    testDb = await createTestDatabase('pglite')
  })
  after(async () => {
    for (const app of apps) await app.close()
    await testDb.drop()
  })
  const start = async (env: Record<string, string>) => {
    const app = await buildApp(testConfig({ METRICS_TOKEN: token, ...env }), { db: testDb.db, logger: false })
    apps.push(app)
    await app.ready()
    return app
  }

  test('when METRICS_TOKEN is set, then /metrics on the API port answers only its bearer token, others get 401 problem+json', async () => {
    const app = await start({})
    for (const authorization of [
      undefined,
      'Bearer wrong-token-0123456789',
      `Basic ${token}`,
      `Bearer ${token}x`,
      'Bearer',
      `bearer ${token}x`,
    ]) {
      const denied = await app.inject({ url: '/metrics', headers: authorization ? { authorization } : {} })
      assert.equal(denied.statusCode, 401, String(authorization))
      assert.equal(denied.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.equal(denied.headers['www-authenticate'], /^bearer \S/i.test(authorization ?? '') ? 'Bearer error="invalid_token"' : 'Bearer')
      assert.doesNotMatch(denied.body, /moodlog_http_requests_total/)
    }
    const allowed = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } })
    assert.equal(allowed.statusCode, 200)
    assert.match(allowed.body, /moodlog_http_requests_total/)
  })

  test('when METRICS_TOKEN and METRICS_PORT are set, then the metrics listener asks for the token too', async () => {
    const app = await start({ METRICS_PORT: '0' })
    const base = `http://127.0.0.1:${app.metrics.address()!.port}`
    const denied = await fetch(`${base}/metrics`)
    assert.equal(denied.status, 401)
    assert.equal(denied.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    assert.equal(((await denied.json()) as { status: number }).status, 401)
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer')
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}x` } })
    assert.equal(wrong.status, 401)
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer error="invalid_token"')
    assert.equal(
      (await fetch(`${base}/metrics`, { headers: { authorization: `bearer ${token}` } })).status,
      200,
      'the scheme is case-insensitive',
    )
    const allowed = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(allowed.status, 200)
    assert.match(await allowed.text(), /moodlog_http_requests_total/)
  })

  test('when METRICS_TOKEN is too short to be a secret, then the configuration is refused naming it', () => {
    assert.throws(() => testConfig({ METRICS_TOKEN: 'short' }), /^ConfigError: METRICS_TOKEN must be 16 to 256/)
  })
})
