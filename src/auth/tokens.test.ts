import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { AccessTokens } from './tokens.js'

test('when a token has been verified before, then it still stops working at its expiry', async () => {
  const tokens = new AccessTokens(randomBytes(32), 1)
  const token = await tokens.sign({ userId: 7, sessionId: 'session-a' })
  assert.deepEqual(await tokens.verify(token), { userId: 7, sessionId: 'session-a' })
  assert.deepEqual(await tokens.verify(token), { userId: 7, sessionId: 'session-a' }, 'a second use is accepted too')
  // `exp` has one-second resolution: wait past the second after it.
  await sleep(2100)
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
