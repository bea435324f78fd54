import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { canonicalEmail } from '../auth/email.js'
import type { Queryable } from '../db/index.js'
import { describeEachBackend, type Harness } from '../../test/support/harness.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

/**
 * Every column that can hold a user's id: columns named user_id, and every column of a foreign
 * key to users. Read from information_schema, so a table added later is covered without editing
 * this test.
 */
async function userColumns(db: Queryable): Promise<Array<{ table: string; column: string }>> {
  return db.query<{ table: string; column: string }>(
    `select distinct c.table_name as "table", c.column_name as "column"
       from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      where c.table_schema = 'public' and t.table_type = 'BASE TABLE' and c.column_name = 'user_id'
     union
     select kcu.table_name, kcu.column_name
       from information_schema.referential_constraints rc
       join information_schema.key_column_usage kcu
         on kcu.constraint_schema = rc.constraint_schema and kcu.constraint_name = rc.constraint_name
       join information_schema.constraint_column_usage ccu
         on ccu.constraint_schema = rc.unique_constraint_schema and ccu.constraint_name = rc.unique_constraint_name
      where kcu.table_schema = 'public' and ccu.table_name = 'users'
      order by 1, 2`,
  )
}

/** Webhooks to a loopback port nothing listens on; no worker, so the deliveries stay queued. */
const env = { WEBHOOKS: 'off', WEBHOOKS_ALLOW_HTTP: 'true', WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true' }

/**
 * What an account leaves behind in a day of use: a webhook endpoint and its queued deliveries,
 * entries (one with an Idempotency-Key), an import, cached pages, a wrong password.
 */
async function useTheService(h: Harness, user: SignedIn): Promise<void> {
  const hook = await h.request({ method: 'POST', url: '/webhooks', headers: user.auth, payload: { url: 'http://127.0.0.1:9/hook' } })
  assert.equal(hook.statusCode, 201, hook.body)
  const created = await h.request({
    method: 'POST',
    url: '/entries',
    headers: { ...user.auth, 'idempotency-key': `erasure-${user.id}` },
    payload: { text: 'something', mood: 6, category: 'work' },
  })
  assert.equal(created.statusCode, 201, created.body)
  const imported = await h.request({
    method: 'POST',
    url: '/import',
    headers: { ...user.auth, 'content-type': 'application/x-ndjson' },
    payload: '{"text":"imported","mood":4,"category":"home","occurredAt":"2024-05-01T08:00:00Z"}',
  })
  assert.equal(imported.statusCode, 200, imported.body)
  for (const url of ['/entries', '/entries?limit=1', '/stats']) {
    assert.equal((await h.request({ method: 'GET', url, headers: user.auth })).statusCode, 200)
  }
  const wrong = await h.request({ method: 'POST', url: '/login', payload: { email: user.email, password: 'not the password' } })
  assert.equal(wrong.statusCode, 401)
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`

/** The database's part: every table, found through information_schema. */
function noRowLeft(h: Harness): void {
  test('when an account is deleted, then no row of any table refers to it, and another account keeps its rows', async () => {
    const gone = await signUp(h)
    const kept = await signUp(h)
    for (const user of [gone, kept]) await useTheService(h, user)

    const columns = await userColumns(h.db)
    const tables = new Set(columns.map((c) => c.table))
    const expected = [
      'entries',
      'entry_counts',
      'idempotency_keys',
      'refresh_tokens',
      'sessions',
      'webhook_deliveries',
      'webhook_endpoints',
    ]
    for (const table of expected) assert.ok(tables.has(table), `${table} is among ${[...tables]}`)

    const rowsOf = async (userId: number) => {
      const found: Record<string, number> = {}
      for (const { table, column } of columns) {
        const rows = await h.db.query<{ n: number }>(`select count(*)::int as n from ${quote(table)} where ${quote(column)} = $1`, [userId])
        if (rows[0]!.n > 0) found[`${table}.${column}`] = rows[0]!.n
      }
      const user = await h.db.query<{ n: number }>('select count(*)::int as n from users where id = $1', [userId])
      if (user[0]!.n > 0) found['users.id'] = user[0]!.n
      return found
    }
    const had = await rowsOf(gone.id)
    for (const table of expected) assert.ok(`${table}.user_id` in had, `the account had rows in ${table} to delete: ${JSON.stringify(had)}`)

    const deleted = await h.request({ method: 'DELETE', url: '/me', headers: gone.auth, payload: { password: gone.password } })
    assert.equal(deleted.statusCode, 204, deleted.body)

    assert.deepEqual(await rowsOf(gone.id), {})
    const left = await rowsOf(kept.id)
    assert.equal(left['entries.user_id'], 2)
    assert.equal(left['webhook_deliveries.user_id'], 1, 'the entry created through the API; a quiet import sends none')
    assert.equal(left['users.id'], 1)
  })
}

describeEachBackend('DELETE /me leaves nothing behind', noRowLeft, { env })

type Hold = (operation: 'get' | 'set', key: string) => boolean

/**
 * A read of `url` held at the first store operation `hold` picks (a seam in the app's own store),
 * so the test decides what happens before it goes on: no sleeping, no racing.
 */
function heldRead(h: Harness, user: SignedIn, url: string, hold: Hold) {
  const store = h.app.stores.shared
  const { get, set } = store
  const written: string[] = []
  let reached!: () => void
  const atHold = new Promise<void>((resolve) => (reached = resolve))
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let held = false
  const pause = async (operation: 'get' | 'set', key: string) => {
    if (held || !hold(operation, key)) return
    held = true
    reached()
    await released
  }
  store.get = async (key) => {
    await pause('get', key)
    return get.call(store, key)
  }
  store.set = async (key, value, ttlMs) => {
    await pause('set', key)
    // Cache keys; a session's `revoked` mark names a random session id, not the account.
    if (/^(cache|gen):/.test(key)) written.push(key)
    return set.call(store, key, value, ttlMs)
  }
  const response = h.request({ method: 'GET', url, headers: user.auth })
  return {
    atHold,
    written,
    /** Lets the read go on; resolves with its answer, the store restored. */
    async finish() {
      release()
      try {
        return await response
      } finally {
        store.get = get
        store.set = set
      }
    },
  }
}

/** Erasure against reads in flight: whatever such a read stores after `DELETE /me` cleared the keys does not stay. */
function noCachedReadOutlivesErasure(h: Harness): void {
  const cases: Array<[string, string, (userId: number) => Hold]> = [
    // Past its query, about to store the page it computed.
    [
      'between its query and its cache write',
      '/entries',
      (id) => (operation, key) => operation === 'set' && key.startsWith(`cache:${id}:`),
    ],
    ['between its query and its cache write', '/stats', (id) => (operation, key) => operation === 'set' && key.startsWith(`cache:${id}:`)],
    // Signed in before the deletion, asking for the generation after it: it finds none and makes one.
    ['before it asks for its cache generation', '/entries', (id) => (operation, key) => operation === 'get' && key === `gen:${id}`],
  ]
  for (const [where, url, hold] of cases) {
    test(`when GET ${url} is ${where} while the account is deleted, then no cache key of the account is left`, async () => {
      const user = await signUp(h)
      const created = await h.request({
        method: 'POST',
        url: '/entries',
        headers: user.auth,
        payload: { text: 'x', mood: 5, category: 'c' },
      })
      assert.equal(created.statusCode, 201, created.body)
      const read = heldRead(h, user, url, hold(user.id))
      await read.atHold

      const deleted = await h.request({ method: 'DELETE', url: '/me', headers: user.auth, payload: { password: user.password } })
      assert.equal(deleted.statusCode, 204, deleted.body)
      const answer = await read.finish()
      assert.equal(answer.statusCode, 200, answer.body)

      assert.ok(read.written.length > 0, 'the held read did store something after the erasure')
      const store = h.app.stores.shared
      for (const key of [...read.written, `gen:${user.id}`]) assert.equal(await store.get(key), undefined, `${key} is left`)
      const gone = await h.request({ method: 'GET', url, headers: user.auth })
      assert.equal(gone.statusCode, 401, 'the deleted account is signed out')
    })
  }
}

describeEachBackend('DELETE /me while cached reads are in flight (in-process store)', noCachedReadOutlivesErasure, { env })

const redisUrl = process.env.TEST_REDIS_URL
const keyPrefix = `moodlog-test-${randomUUID()}:`

// Redis runs beside the server database (`.ci/run`'s second pass); this file's keys have a prefix of their own.
if (redisUrl) {
  describeEachBackend(
    'DELETE /me leaves no Redis key behind',
    (h) => {
      let redis: Redis
      before(async () => {
        redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
        // Both backends' suites share the prefix, and their user ids start at 1 alike: start clean.
        for await (const keys of redis.scanStream({ match: `${keyPrefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
          if (keys.length > 0) await redis.unlink(...keys)
        }
      })
      after(() => redis.quit())

      /** Every key of this app and its value, without the app's prefix (SCAN, as an operator would look). */
      const keysAndValues = async () => {
        const found = new Map<string, string>()
        for await (const keys of redis.scanStream({ match: `${keyPrefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
          for (const key of keys) {
            const type = await redis.type(key)
            found.set(key.slice(keyPrefix.length), type === 'string' ? ((await redis.get(key)) ?? '') : type)
          }
        }
        return found
      }

      /** Keys that name the account: by id (caches, its rate-limit budget), by its email's hash (throttles), or live sessions of it. */
      const aboutUser = (all: Map<string, string>, user: SignedIn) => {
        const id = new RegExp(`(^|:)${user.id}(:|$)`)
        const emailHash = createHash('sha256').update(canonicalEmail(user.email)).digest('base64url')
        return [...all].filter(([key, value]) => id.test(key) || key.includes(emailHash) || value === `live:${user.id}`).map(([key]) => key)
      }

      test('when an account is deleted, then no key names it by id, email or session, and another account keeps its keys', async () => {
        const gone = await signUp(h)
        const kept = await signUp(h)
        for (const user of [gone, kept]) await useTheService(h, user)

        const before = aboutUser(await keysAndValues(), gone)
        for (const kind of ['cache:', 'gen:', 'ratelimit:user:', 'signin:account:', 'signin:account-address:']) {
          assert.ok(
            before.some((key) => key.startsWith(kind)),
            `the account had a ${kind} key to delete: ${before.join(', ')}`,
          )
        }

        const deleted = await h.request({ method: 'DELETE', url: '/me', headers: gone.auth, payload: { password: gone.password } })
        assert.equal(deleted.statusCode, 204, deleted.body)

        const after = await keysAndValues()
        assert.deepEqual(aboutUser(after, gone), [])
        assert.ok(
          aboutUser(after, kept).some((key) => key.startsWith('cache:')),
          'the other account keeps its cached pages',
        )
        const page = await h.request({ method: 'GET', url: '/entries', headers: kept.auth })
        assert.equal(page.json().items.length, 2)
      })
    },
    { env: { ...env, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix } },
  )
  describeEachBackend('DELETE /me while cached reads are in flight (Redis)', noCachedReadOutlivesErasure, {
    env: { ...env, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `moodlog-test-${randomUUID()}:` },
  })
}
