import assert from 'node:assert/strict'
import os from 'node:os'
import { test } from 'node:test'
import { SignJWT, UnsecuredJWT } from 'jose'
import { describeEachBackend } from '../../test/support/harness.js'
import { signIn, signUp, uniqueEmail } from '../../test/support/users.js'
import type { HttpError } from '../http/errors.js'
import type { PasswordHasher } from './passwords.js'
import { login } from './service.js'

const SECRET = new TextEncoder().encode('test-secret-that-is-at-least-32-bytes-long')

describeEachBackend('accounts and sessions', (h) => {
  const me = (authorization: string) => h.request({ method: 'GET', url: '/me', headers: { authorization } })

  test('when a user registers, signs in and asks who they are, then nothing secret is ever returned', async () => {
    const email = uniqueEmail()
    const registered = await h.request({
      method: 'POST',
      url: '/register',
      payload: { email: `  ${email} `, password: 'a perfectly fine passphrase' },
    })
    assert.equal(registered.statusCode, 201)
    assert.equal(registered.headers.location, '/me', 'the new account lives at /me')
    const user = registered.json()
    assert.deepEqual(Object.keys(user).sort(), ['createdAt', 'email', 'id'])
    assert.equal(user.email, email, 'email is trimmed')
    assert.ok(!Number.isNaN(Date.parse(user.createdAt)))

    const login = await h.request({
      method: 'POST',
      url: '/login',
      payload: { email: email.toUpperCase(), password: 'a perfectly fine passphrase' },
    })
    assert.equal(login.statusCode, 200)
    const pair = login.json()
    assert.deepEqual(Object.keys(pair).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'tokenType'])
    assert.equal(pair.tokenType, 'Bearer')
    assert.equal(pair.expiresIn, 900)
    for (const body of [registered.body, login.body]) assert.ok(!/argon2|password|hash/i.test(body))

    const who = await me(`Bearer ${pair.accessToken}`)
    assert.equal(who.statusCode, 200)
    assert.deepEqual(who.json(), user)
  })

  test('when an email is taken in another case, then registering again is 409', async () => {
    const email = uniqueEmail()
    assert.equal(
      (await h.request({ method: 'POST', url: '/register', payload: { email, password: 'first user password' } })).statusCode,
      201,
    )
    const again = await h.request({
      method: 'POST',
      url: '/register',
      payload: { email: email.toUpperCase(), password: 'second user password' },
    })
    assert.equal(again.statusCode, 409)
    assert.equal(again.json().type, '/problems/email-taken')
  })

  test('when a password is too short, too long or among the most common, then 400 names the field', async () => {
    for (const password of ['short7!', 'x'.repeat(257), 'password123', 'Iloveyou1']) {
      const res = await h.request({ method: 'POST', url: '/register', payload: { email: uniqueEmail(), password } })
      assert.equal(res.statusCode, 400, password)
      assert.equal(res.json().errors[0].field, 'password')
    }
    const bad = await h.request({ method: 'POST', url: '/register', payload: { email: 'not-an-email', password: 'fine password here' } })
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.json().errors[0].field, 'email')
    const extra = await h.request({
      method: 'POST',
      url: '/register',
      payload: { email: uniqueEmail(), password: 'fine password here', isAdmin: true },
    })
    assert.equal(extra.statusCode, 400)
  })

  test('when two passwords differ only after byte 72, then they are different passwords', async () => {
    const prefix = 'p'.repeat(72)
    const user = await signUp(h, `${prefix}-one`)
    const wrong = await h.request({ method: 'POST', url: '/login', payload: { email: user.email, password: `${prefix}-two` } })
    assert.equal(wrong.statusCode, 401)
  })

  test('when the email is unknown or the password wrong, then the answers are the same', async () => {
    const user = await signUp(h)
    const unknown = await h.request({ method: 'POST', url: '/login', payload: { email: uniqueEmail(), password: user.password } })
    const wrong = await h.request({ method: 'POST', url: '/login', payload: { email: user.email, password: 'not the password' } })
    assert.equal(unknown.statusCode, 401)
    assert.equal(wrong.statusCode, 401)
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined })
    assert.deepEqual(strip(unknown.json()), strip(wrong.json()))
  })

  test('when a token is forged, expired, for another audience or a refresh token, then it gets 401', async () => {
    const user = await signUp(h)
    // The user's real session: each token below fails for its own reason, not for a missing session.
    const claims = { sid: JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()).sid as string }
    const sign = (key: Uint8Array, edit: (jwt: SignJWT) => SignJWT, sid = claims.sid) =>
      edit(new SignJWT({ sid }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(user.id)).setIssuedAt()).sign(key)
    const genuine = await sign(SECRET, (j) => j.setIssuer('moodlog').setAudience('moodlog-api').setExpirationTime('5m'))
    assert.equal((await me(`Bearer ${genuine}`)).statusCode, 200, 'a token made like the server makes them is accepted')
    const [header, payload, signature] = user.accessToken.split('.')
    const tampered = JSON.parse(Buffer.from(payload!, 'base64url').toString())
    tampered.sub = String(user.id + 1)

    const forged = {
      'alg none': new UnsecuredJWT({ ...claims, sub: String(user.id) })
        .setIssuer('moodlog')
        .setAudience('moodlog-api')
        .setIssuedAt()
        .setExpirationTime('5m')
        .encode(),
      'another key': await sign(new TextEncoder().encode('another-secret-that-is-at-least-32-bytes'), (j) =>
        j.setIssuer('moodlog').setAudience('moodlog-api').setExpirationTime('5m'),
      ),
      expired: await sign(SECRET, (j) =>
        j
          .setIssuer('moodlog')
          .setAudience('moodlog-api')
          .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
          .setExpirationTime(Math.floor(Date.now() / 1000) - 60),
      ),
      'wrong audience': await sign(SECRET, (j) => j.setIssuer('moodlog').setAudience('someone-else').setExpirationTime('5m')),
      'wrong issuer': await sign(SECRET, (j) => j.setIssuer('evil').setAudience('moodlog-api').setExpirationTime('5m')),
      'no issuer': await sign(SECRET, (j) => j.setAudience('moodlog-api').setExpirationTime('5m')),
      'no audience': await sign(SECRET, (j) => j.setIssuer('moodlog').setExpirationTime('5m')),
      'issued in the future': await sign(SECRET, (j) =>
        j
          .setIssuer('moodlog')
          .setAudience('moodlog-api')
          .setIssuedAt(Math.floor(Date.now() / 1000) + 3600)
          .setExpirationTime(Math.floor(Date.now() / 1000) + 7200),
      ),
      tampered: `${header}.${Buffer.from(JSON.stringify(tampered)).toString('base64url')}.${signature}`,
      'refresh token': user.refreshToken,
      garbage: 'not-a-token',
    }
    for (const [name, token] of Object.entries(forged)) {
      const res = await me(`Bearer ${token}`)
      assert.equal(res.statusCode, 401, name)
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', name)
    }
    // No bearer token at all: the challenge names the scheme and no error (RFC 6750 §3.1).
    const bare = await h.request({ method: 'GET', url: '/me' })
    assert.equal(bare.statusCode, 401, 'no header')
    assert.equal(bare.headers['www-authenticate'], 'Bearer')
    const basic = await me(`Basic ${user.accessToken}`)
    assert.equal(basic.statusCode, 401, 'wrong scheme')
    assert.equal(basic.headers['www-authenticate'], 'Bearer')
    // A validly signed token for a session that does not exist is refused as well.
    const noSession = await sign(
      SECRET,
      (j) => j.setIssuer('moodlog').setAudience('moodlog-api').setExpirationTime('5m'),
      '00000000-0000-4000-8000-000000000000',
    )
    const ended = await me(`Bearer ${noSession}`)
    assert.equal(ended.statusCode, 401)
    assert.equal(ended.headers['www-authenticate'], 'Bearer error="invalid_token"')
  })

  test('when a protected route gets an anonymous or forged request with a bad body, then it is 401, not a 400 about its fields', async () => {
    for (const headers of [{}, { authorization: 'Bearer forged.token.here' }]) {
      for (const request of [
        { method: 'POST' as const, url: '/entries', payload: { mood: 'very', text: 42 } },
        { method: 'PATCH' as const, url: '/entries/1', payload: { nope: true } },
        { method: 'GET' as const, url: '/entries?limit=abc&bogus=1' },
        { method: 'POST' as const, url: '/webhooks', payload: 'not json', headers: { 'content-type': 'text/plain' } },
      ]) {
        const answer = await h.request({ ...request, headers: { ...request.headers, ...headers } })
        assert.equal(answer.statusCode, 401, `${request.method} ${request.url} ${JSON.stringify(headers)}: ${answer.body}`)
        assert.equal(answer.json().errors, undefined, 'no field errors are disclosed')
      }
    }
  })

  test('when the scheme is written in another case, then the token is still accepted (RFC 9110 §11.1)', async () => {
    const user = await signUp(h)
    for (const scheme of ['bearer', 'BEARER', 'Bearer ']) assert.equal((await me(`${scheme} ${user.accessToken}`)).statusCode, 200, scheme)
  })

  test('when a refresh token is used, then it is spent; when it is replayed, then the whole family dies', async () => {
    const user = await signUp(h)
    const first = await h.request({ method: 'POST', url: '/token/refresh', payload: { refreshToken: user.refreshToken } })
    assert.equal(first.statusCode, 200)
    const second = first.json()
    assert.notEqual(second.refreshToken, user.refreshToken)
    assert.equal((await me(`Bearer ${second.accessToken}`)).statusCode, 200)

    const replay = await h.request({ method: 'POST', url: '/token/refresh', payload: { refreshToken: user.refreshToken } })
    assert.equal(replay.statusCode, 401)
    // The newest token of the family and its access token are dead too.
    const newest = await h.request({ method: 'POST', url: '/token/refresh', payload: { refreshToken: second.refreshToken } })
    assert.equal(newest.statusCode, 401)
    assert.equal((await me(`Bearer ${second.accessToken}`)).statusCode, 401)
    assert.equal((await me(user.auth.authorization)).statusCode, 401)
    // Another session of the same user is untouched.
    const other = await signIn(h, user.email, user.password)
    assert.equal((await me(other.auth.authorization)).statusCode, 200)
  })

  test('when a refresh token is malformed or its session has expired, then 401', async () => {
    const user = await signUp(h)
    for (const refreshToken of ['x', `${user.refreshToken}x`, user.refreshToken.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))]) {
      const refused = await h.request({ method: 'POST', url: '/token/refresh', payload: { refreshToken } })
      assert.equal(refused.statusCode, 401, refreshToken)
      assert.equal(refused.headers['www-authenticate'], undefined, 'a token in the body gets no bearer challenge')
    }
    await h.db.query(`update sessions set expires_at = now() - interval '1 second' where user_id = $1`, [user.id])
    assert.equal((await h.request({ method: 'POST', url: '/token/refresh', payload: { refreshToken: user.refreshToken } })).statusCode, 401)
  })

  test('when a user logs out, then the access token stops working at once; logout/all ends every session', async () => {
    const user = await signUp(h)
    const other = await signIn(h, user.email, user.password)
    assert.equal((await me(user.auth.authorization)).statusCode, 200)
    const out = await h.request({ method: 'POST', url: '/logout', payload: { refreshToken: user.refreshToken } })
    assert.equal(out.statusCode, 204)
    assert.equal((await me(user.auth.authorization)).statusCode, 401)
    assert.equal((await h.request({ method: 'POST', url: '/token/refresh', payload: { refreshToken: user.refreshToken } })).statusCode, 401)
    assert.equal((await me(other.auth.authorization)).statusCode, 200, 'the other session lives')

    const third = await signIn(h, user.email, user.password)
    assert.equal((await h.request({ method: 'POST', url: '/logout/all', headers: third.auth })).statusCode, 204)
    assert.equal((await me(other.auth.authorization)).statusCode, 401)
    assert.equal((await me(third.auth.authorization)).statusCode, 401)
  })

  test('when tokens are issued, then no cache may keep them; answers for a signed-in user are private and vary by Authorization', async () => {
    const user = await signUp(h)
    const login = await h.request({ method: 'POST', url: '/login', payload: { email: user.email, password: user.password } })
    const refreshed = await h.request({ method: 'POST', url: '/token/refresh', payload: { refreshToken: login.json().refreshToken } })
    for (const [name, answer] of Object.entries({ login, refreshed })) {
      assert.equal(answer.statusCode, 200, name)
      assert.equal(answer.headers['cache-control'], 'no-store', name)
    }
    for (const url of ['/me', '/entries', '/stats', '/categories', '/webhooks']) {
      const read = await h.request({ method: 'GET', url, headers: user.auth })
      assert.equal(read.statusCode, 200, url)
      assert.equal(read.headers['cache-control'], 'private, no-cache', url)
      assert.match(String(read.headers.vary), /\bAuthorization\b/, url)
    }
    const download = await h.request({ method: 'GET', url: '/export', headers: user.auth })
    assert.equal(download.headers['cache-control'], 'no-store', 'an export is never kept')
  })

  test('when a logout is retried, then it is 204 again; a token this server never issued is 401', async () => {
    const user = await signUp(h)
    const logout = (refreshToken: string) => h.request({ method: 'POST', url: '/logout', payload: { refreshToken } })
    assert.equal((await logout(user.refreshToken)).statusCode, 204)
    const again = await logout(user.refreshToken)
    assert.equal(again.statusCode, 204, again.body)
    assert.equal(again.body, '')

    const [head, secret] = [user.refreshToken.slice(0, -4), user.refreshToken.slice(-4)]
    const forged = await logout(`${head}${secret === 'AAAA' ? 'BBBB' : 'AAAA'}`)
    assert.equal(forged.statusCode, 401, forged.body)
    assert.equal(forged.headers['www-authenticate'], undefined, 'the token is in the body, not a bearer challenge')

    // A session ended elsewhere (sign out everywhere) logs out fine; a deleted account's token is not genuine any more.
    const other = await signIn(h, user.email, user.password)
    assert.equal((await h.request({ method: 'POST', url: '/logout/all', headers: other.auth })).statusCode, 204)
    assert.equal((await logout(other.refreshToken)).statusCode, 204)
    const last = await signIn(h, user.email, user.password)
    assert.equal(
      (await h.request({ method: 'DELETE', url: '/me', headers: last.auth, payload: { password: user.password } })).statusCode,
      204,
    )
    assert.equal((await logout(last.refreshToken)).statusCode, 401)
  })

  test('when the password changes, then other sessions end and only the new password works', async () => {
    const user = await signUp(h)
    const other = await signIn(h, user.email, user.password)
    const wrong = await h.request({
      method: 'PATCH',
      url: '/me/password',
      headers: user.auth,
      payload: { currentPassword: 'nope nope nope', newPassword: 'a brand new passphrase' },
    })
    assert.equal(wrong.statusCode, 403)
    const common = await h.request({
      method: 'PATCH',
      url: '/me/password',
      headers: user.auth,
      payload: { currentPassword: user.password, newPassword: 'password1' },
    })
    assert.equal(common.statusCode, 400)
    const changed = await h.request({
      method: 'PATCH',
      url: '/me/password',
      headers: user.auth,
      payload: { currentPassword: user.password, newPassword: 'a brand new passphrase' },
    })
    assert.equal(changed.statusCode, 204)
    assert.equal((await me(other.auth.authorization)).statusCode, 401)
    assert.equal((await me(user.auth.authorization)).statusCode, 200, 'this session stays signed in')
    assert.equal(
      (await h.request({ method: 'POST', url: '/login', payload: { email: user.email, password: user.password } })).statusCode,
      401,
    )
    await signIn(h, user.email, 'a brand new passphrase')
  })

  test('when a user deletes the account, then the user and every entry are gone', async () => {
    const user = await signUp(h)
    const keeper = await signUp(h)
    for (const owner of [user, keeper]) {
      await h.db.query(
        `insert into entries (user_id, text, mood, category) select $1, 'note ' || n, 5, 'work' from generate_series(1, 3) n`,
        [owner.id],
      )
    }
    assert.equal(
      (await h.request({ method: 'DELETE', url: '/me', headers: user.auth, payload: { password: 'wrong password' } })).statusCode,
      403,
    )
    const deleted = await h.request({ method: 'DELETE', url: '/me', headers: user.auth, payload: { password: user.password } })
    assert.equal(deleted.statusCode, 204)
    assert.equal((await me(user.auth.authorization)).statusCode, 401)
    assert.equal(
      (await h.request({ method: 'POST', url: '/login', payload: { email: user.email, password: user.password } })).statusCode,
      401,
    )
    const counts = await h.db.query<{ owner: number; n: number }>(
      'select user_id as owner, count(*)::int as n from entries where user_id = any($1::bigint[]) group by user_id',
      [[user.id, keeper.id]],
    )
    assert.deepEqual(counts, [{ owner: keeper.id, n: 3 }])
  })

  const wrong = (email: string) => ({
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'not the password' }),
  })

  test('when sign-in clients disconnect while queued for the password hasher, then their sign-ins are dropped and a connected client is answered', async () => {
    const { email, password } = await signUp(h)
    const address = await h.app.listen({ port: 0, host: '127.0.0.1' })
    const body = JSON.stringify({ email, password })
    const post = (signal?: AbortSignal) =>
      fetch(`${address}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal })
    const { hasher } = h.app.auth
    const dropped = hasher.dropped
    // Keep the hasher busy (50 argon2 runs per core: the queue holds 64 per core, so the four
    // sign-ins still fit behind them), send four sign-ins, and have their clients give up once all
    // four wait in the hasher's queue behind that work: no fixed delay to race.
    const stored = await hasher.hash(password)
    let busyLeft = 50 * os.availableParallelism()
    const busy = Array.from({ length: busyLeft }, () => hasher.verify(stored, password).finally(() => (busyLeft -= 1)))
    const clients = Array.from({ length: 4 }, () => new AbortController())
    const attempts = clients.map((client) => post(client.signal).catch(() => undefined))
    while (hasher.inProgress - busyLeft < 4 && busyLeft > 0) await new Promise((resolve) => setTimeout(resolve, 5))
    assert.ok(busyLeft > 0, 'the four sign-ins reached the hasher while it was still busy')
    for (const client of clients) client.abort()
    await Promise.all(attempts)
    await Promise.all(busy)
    const stayed = await post()
    assert.equal(stayed.status, 200)
    assert.ok(((await stayed.json()) as { accessToken?: string }).accessToken)
    assert.equal(hasher.dropped, dropped + 4, 'the abandoned sign-ins were not hashed')
    // Never checked, so never counted: all ten wrong guesses of this address are still left.
    const guesses = []
    for (let i = 0; i < 11; i++) guesses.push((await fetch(`${address}/login`, { ...wrong(email), method: 'POST' })).status)
    assert.deepEqual(guesses, [...Array<number>(10).fill(401), 429])
  })

  test('when the account is deleted while its password is being checked, then the sign-in is 401, not a 500', async () => {
    const user = await signUp(h)
    const real = h.app.auth.hasher
    // The deletion lands between the account lookup and the session insert.
    const hasher: PasswordHasher = Object.create(real)
    hasher.verify = async (hash, password) => {
      const valid = await real.verify(hash, password)
      await h.db.query('delete from users where id = $1', [user.id])
      return valid
    }
    await assert.rejects(login({ ...h.app.auth, hasher }, user.email, user.password, '203.0.113.9'), (error: HttpError) => {
      assert.equal(error.status, 401)
      assert.equal(error.code, 'invalid-credentials')
      return true
    })
  })
})
