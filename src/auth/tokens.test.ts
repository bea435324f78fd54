import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { AccessTokens } from './tokens.js'

test('when a token has been verified before, then it still stops working at its expiry', async () => {
  // On a whole second, so that `exp` (whole seconds) is exactly one TTL later.
  let now = Date.parse('2026-03-01T12:00:00Z')
  const tokens = new AccessTokens(randomBytes(32), 1, { now: () => now })
  const token = await tokens.sign({ userId: 7, sessionId: 'session-a' })
  assert.deepEqual(await tokens.verify(token), { userId: 7, sessionId: 'session-a' })
  assert.deepEqual(await tokens.verify(token), { userId: 7, sessionId: 'session-a' }, 'a second use is accepted too')
  now += 1000
  assert.deepEqual(await tokens.verify(token), { userId: 7, sessionId: 'session-a' }, 'accepted up to its expiry')
  now += 1
  assert.equal(await tokens.verify(token), undefined)
})

test('when a token was verified by one key, then another key still refuses it', async () => {
  const issuer = new AccessTokens(randomBytes(32), 60)
  const other = new AccessTokens(randomBytes(32), 60)
  const token = await issuer.sign({ userId: 3, sessionId: 'session-b' })
  assert.ok(await issuer.verify(token))
  assert.equal(await other.verify(token), undefined)
  const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`
  assert.equal(await issuer.verify(tampered), undefined, 'a token that differs from a verified one is verified afresh')
})
