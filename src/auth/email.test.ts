import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, test } from 'node:test'
import { backendNames, createTestDatabase, describeEachBackend, type TestDatabase } from '../../test/support/harness.js'
import { signUp } from '../../test/support/users.js'
import { isUniqueViolation, migrate } from '../db/index.js'
import { canonicalEmail } from './email.js'

const PASSWORD = 'correct horse battery staple'

/** Addresses on which JavaScript and Postgres case mappings are known to disagree, and plain ones. */
const TRICKY = [
  'Plain.Name@Example.TEST',
  'k\u0130m@example.test', // U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE
  '\u212Aelvin@example.test', // U+212A KELVIN SIGN
  'Stra\u00DFe@example.test',
  '\u03A3\u03B9\u03C3@example.test',
  '\u00C9mile@Caf\u00E9.test',
  'e\u0301mile@example.test',
]

describeEachBackend(
  'one canonical email form',
  (h) => {
    const register = (email: string, password = PASSWORD) => h.request({ method: 'POST', url: '/register', payload: { email, password } })
    const login = (email: string, password: string, remoteAddress = '198.51.100.50') =>
      h.request({ method: 'POST', url: '/login', remoteAddress, payload: { email, password } })

    test('when the database computes the canonical column, then it is exactly the app’s canonical form', async () => {
      for (const email of TRICKY) {
        const unique = email.replace('@', `-${randomUUID()}@`)
        const rows = await h.db.query<{ canonical: string }>(
          `insert into users (email, password_hash) values ($1, 'x') returning email_canonical as canonical`,
          [unique],
        )
        assert.equal(rows[0]!.canonical, canonicalEmail(unique), JSON.stringify(email))
      }
    })

    test('when a variant spelling with U+0130 is tried, then it is not the same account, and gets no fresh budget for it', async () => {
      const email = `kim-${randomUUID()}@example.test`
      const variant = email.replace('kim', 'k\u0130m')
      assert.equal((await register(email)).statusCode, 201)
      for (let i = 0; i < 10; i++) assert.equal((await login(email, `wrong ${i}`)).statusCode, 401)
      assert.equal((await login(email, PASSWORD)).statusCode, 429)
      // Before: a fresh throttle key in JavaScript, and lower() in Postgres found the account.
      assert.equal((await login(variant, PASSWORD)).statusCode, 401)
      assert.equal((await login(email.toUpperCase(), PASSWORD)).statusCode, 429, 'an ASCII case variant is the same account')
    })

    test('when addresses differ only in A–Z case, then they are one account; otherwise they are two, consistently', async () => {
      const email = `kim-${randomUUID()}@example.test`
      const first = await register(email)
      assert.equal(first.statusCode, 201)
      assert.equal((await register(email.toUpperCase(), 'another passphrase here')).statusCode, 409)
      const variant = email.replace('kim', 'k\u0130m')
      const second = await register(variant, 'another passphrase here')
      assert.equal(second.statusCode, 201, 'a different address')
      assert.equal(second.json().email, variant)
      const signedIn = await login(variant, 'another passphrase here', '198.51.100.51')
      assert.equal(signedIn.statusCode, 200)
      const me = await h.request({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${signedIn.json().accessToken}` } })
      assert.equal(me.json().id, second.json().id)
      assert.notEqual(me.json().id, first.json().id)
    })

    test('when an email holds NUL or a lone surrogate, then every route answers 400 problem+json, and nothing is stored', async () => {
      const user = await signUp(h)
      const problem = (res: { statusCode: number; headers: Record<string, unknown>; json(): any }, field: string, what: string) => {
        assert.equal(res.statusCode, 400, what)
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', what)
        assert.equal(res.json().errors[0].field, field, what)
      }
      for (const bad of [
        'nul\u0000@example.test',
        `lone-\ud800-${randomUUID()}@example.test`,
        `lone-\udfff-${randomUUID()}@example.test`,
      ]) {
        problem(await register(bad), 'email', `register ${JSON.stringify(bad)}`)
        problem(await login(bad, PASSWORD), 'email', `login ${JSON.stringify(bad)}`)
      }
      const replaced = await h.db.query('select 1 from users where email like $1', ['%\uFFFD%'])
      assert.equal(replaced.length, 0, 'a lone surrogate is refused, not stored as U+FFFD')
      for (const bad of ['nul\u0000password', 'lone \ud800 surrogate']) {
        problem(await register(`x-${randomUUID()}@example.test`, bad), 'password', `register password ${JSON.stringify(bad)}`)
        problem(await login(user.email, bad), 'password', `login password ${JSON.stringify(bad)}`)
        problem(
          await h.request({
            method: 'PATCH',
            url: '/me/password',
            headers: user.auth,
            payload: { currentPassword: bad, newPassword: 'a brand new passphrase' },
          }),
          'currentPassword',
          `password change ${JSON.stringify(bad)}`,
        )
        problem(
          await h.request({
            method: 'PATCH',
            url: '/me/password',
            headers: user.auth,
            payload: { currentPassword: user.password, newPassword: bad },
          }),
          'newPassword',
          `new password ${JSON.stringify(bad)}`,
        )
        problem(
          await h.request({ method: 'DELETE', url: '/me', headers: user.auth, payload: { password: bad } }),
          'password',
          `delete ${JSON.stringify(bad)}`,
        )
      }
    })
  },
  { env: { REQUEST_TIMEOUT_SECONDS: '300' } },
)

describe('migration 004: existing accounts get their canonical form', () => {
  for (const backend of backendNames()) {
    let testDb: TestDatabase | undefined
    after(() => testDb?.drop())

    test(`when accounts exist before the migration, then each is found by any A–Z case spelling [${backend}]`, async () => {
      testDb = await createTestDatabase(backend)
      const { db } = testDb
      await migrate(db, '003')
      const stored = ['Mixed.Case@Example.TEST', 'k\u0130m@example.test', 'plain@example.test']
      for (const email of stored) await db.query(`insert into users (email, password_hash) values ($1, 'x')`, [email])
      await migrate(db)
      const rows = await db.query<{ email: string; canonical: string }>('select email, email_canonical as canonical from users order by id')
      assert.deepEqual(
        rows,
        stored.map((email) => ({ email, canonical: canonicalEmail(email) })),
      )
      await assert.rejects(db.query(`insert into users (email, password_hash) values ('MIXED.case@example.test', 'x')`), isUniqueViolation)
    })
  }
})
