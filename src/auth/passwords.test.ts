import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PasswordHasher, VerificationAbandonedError } from './passwords.js'

test('when a client disconnects while its sign-in waits for the hasher, then it is dropped, not hashed', async () => {
  const hasher = new PasswordHasher(1)
  const stored = await hasher.hash('correct horse battery staple')
  const left = new AbortController()
  // One at a time: the first occupies the hasher, the second waits behind it.
  const first = hasher.verify(stored, 'correct horse battery staple')
  const second = hasher.verify(stored, 'correct horse battery staple', left.signal)
  left.abort()
  assert.equal(await first, true)
  await assert.rejects(second, VerificationAbandonedError)
  assert.equal(hasher.dropped, 1)

  const stayed = new AbortController()
  assert.equal(await hasher.verify(stored, 'correct horse battery staple', stayed.signal), true, 'a client still connected is answered')
  assert.equal(await hasher.verify(stored, 'wrong', stayed.signal), false)
  assert.equal(hasher.dropped, 1)
})
