import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { buildApp } from '../app.js'
import { describeEachBackend, testConfig } from '../../test/support/harness.js'
import { storedEntries } from '../../test/support/journal.js'
import { signUp } from '../../test/support/users.js'

const JSON_TYPE = 'application/json'

/** A jrnl export of `count` entries titled `title` and a number. */
const jrnl = (count: number, title = 'day') =>
  JSON.stringify({
    tags: {},
    entries: Array.from({ length: count }, (_, i) => ({
      title: `${title} ${i}`,
      body: 'fine',
      date: '2024-05-01',
      time: '18:30',
      tags: [],
    })),
  })

/**
 * A body that hands over `text` only when released, and resolves `read` once the server starts
 * reading it (so the import is under way): events, never sleeps.
 */
function heldBody(text: string) {
  let started!: () => void
  const read = new Promise<void>((resolve) => (started = resolve))
  let sent = false
  const body = new Readable({
    read() {
      started()
    },
  })
  return {
    body,
    read,
    release() {
      if (sent) return
      sent = true
      body.push(text)
      body.push(null)
    },
  }
}

describeEachBackend('POST /import limits', (h) => {
  test('when a jrnl file is larger than IMPORT_JRNL_MAX_BYTES, then 413 names that limit and nothing is written, declared or streamed', async () => {
    const user = await signUp(h)
    const app = await buildApp(testConfig({ IMPORT_JRNL_MAX_BYTES: '4096' }), { db: h.db, logger: false })
    try {
      const file = jrnl(60)
      assert.ok(file.length > 4096 && file.length < 8192, String(file.length))
      const headers = { ...user.auth, 'content-type': JSON_TYPE }
      const url = '/import?format=jrnl&defaultMood=6'
      const declared = await app.inject({ method: 'POST', url, headers, payload: file })
      assert.equal(declared.statusCode, 413, declared.body)
      assert.match(declared.headers['content-type'] as string, /^application\/problem\+json/)
      assert.match(declared.json().detail, /jrnl import limit of 4096 bytes .*IMPORT_JRNL_MAX_BYTES/)
      // Chunked, without a length: refused while it streams, before the JSON is parsed.
      const streamed = await app.inject({ method: 'POST', url, headers, payload: Readable.from([file.slice(0, 3000), file.slice(3000)]) })
      assert.equal(streamed.statusCode, 413, streamed.body)
      assert.match(streamed.json().detail, /IMPORT_JRNL_MAX_BYTES/)
      assert.deepEqual(await storedEntries(h.db, user.id), [])
      // The other formats keep IMPORT_MAX_BYTES: a moodlog file of the same size goes in.
      const ndjson = Array.from({ length: 60 }, (_, i) =>
        JSON.stringify({ text: `day ${i} fine`, mood: 6, category: 'jrnl', occurredAt: '2024-05-01T18:30:00Z' }),
      ).join('\n')
      assert.ok(ndjson.length > 4096)
      const moodlog = await app.inject({
        method: 'POST',
        url: '/import?format=moodlog',
        headers: { ...headers, 'content-type': 'application/x-ndjson' },
        payload: ndjson,
      })
      assert.equal(moodlog.statusCode, 200, moodlog.body)
      assert.equal(moodlog.json().created, 60)
    } finally {
      await app.close()
    }
  })

  test('when two imports are being read, then a third account gets 503 with Retry-After, and once they end an import goes in again', async () => {
    const users = [await signUp(h), await signUp(h), await signUp(h)]
    const headersOf = (user: (typeof users)[number]) => ({ ...user.auth, 'content-type': JSON_TYPE })
    const url = '/import?format=jrnl&defaultMood=6'
    const held = [heldBody(jrnl(1, 'first')), heldBody(jrnl(2, 'second'))]
    try {
      const running = held.map(({ body }, i) => h.request({ method: 'POST', url, headers: headersOf(users[i]!), payload: body }))
      await Promise.all(held.map(({ read }) => read))

      const third = await h.request({ method: 'POST', url, headers: headersOf(users[2]!), payload: jrnl(3) })
      assert.equal(third.statusCode, 503, third.body)
      assert.match(third.headers['content-type'] as string, /^application\/problem\+json/)
      assert.ok(Number(third.headers['retry-after']) > 0, `Retry-After ${third.headers['retry-after']}`)

      for (const { release } of held) release()
      const answers = await Promise.all(running)
      assert.deepEqual(
        answers.map((res) => [res.statusCode, res.json().created]),
        [
          [200, 1],
          [200, 2],
        ],
      )
      const after = await h.request({ method: 'POST', url, headers: headersOf(users[2]!), payload: jrnl(3) })
      assert.equal(after.statusCode, 200, after.body)
      assert.equal(after.json().created, 3)
      assert.deepEqual(await Promise.all(users.map(async (user) => (await storedEntries(h.db, user.id)).length)), [1, 2, 3])
    } finally {
      for (const { release } of held) release()
    }
  })

  test('when an account already has an import in progress, then its second is 409 and writes nothing, while another account imports', async () => {
    const [owner, neighbour] = [await signUp(h), await signUp(h)]
    const url = '/import?format=jrnl&defaultMood=6'
    const held = heldBody(jrnl(1, 'first'))
    try {
      const running = h.request({ method: 'POST', url, headers: { ...owner.auth, 'content-type': JSON_TYPE }, payload: held.body })
      await held.read

      const second = await h.request({
        method: 'POST',
        url,
        headers: { ...owner.auth, 'content-type': JSON_TYPE },
        payload: jrnl(2, 'again'),
      })
      assert.equal(second.statusCode, 409, second.body)
      assert.match(second.headers['content-type'] as string, /^application\/problem\+json/)
      assert.equal(second.json().type, '/problems/import-in-progress')
      // One account's import does not hold up another's.
      const other = await h.request({ method: 'POST', url, headers: { ...neighbour.auth, 'content-type': JSON_TYPE }, payload: jrnl(2) })
      assert.equal(other.statusCode, 200, other.body)

      held.release()
      assert.equal((await running).statusCode, 200)
      assert.deepEqual(
        (await storedEntries(h.db, owner.id)).map((entry) => entry.text),
        ['first 0\nfine'],
      )
      // Once it has ended, the account imports again.
      const later = await h.request({
        method: 'POST',
        url,
        headers: { ...owner.auth, 'content-type': JSON_TYPE },
        payload: jrnl(2, 'again'),
      })
      assert.equal(later.statusCode, 200, later.body)
      assert.equal(later.json().created, 2)
    } finally {
      held.release()
    }
  })
})
