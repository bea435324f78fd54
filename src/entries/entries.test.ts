import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { createEntry, listEntries, walkByCursor } from '../../test/support/entries.js'
import { describeEachBackend } from '../../test/support/harness.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

const PROBLEM = 'application/problem+json; charset=utf-8'
const ENTRY_KEYS = ['category', 'createdAt', 'id', 'mood', 'occurredAt', 'text', 'updatedAt', 'version']

describeEachBackend('journal entries', (h) => {
  type Headers = Record<string, string>
  const post = (user: SignedIn, payload: unknown, headers: Headers = {}) =>
    h.request({ method: 'POST', url: '/entries', headers: { ...user.auth, ...headers }, payload: payload as object })
  const get = (user: SignedIn, id: number | string, headers: Headers = {}) =>
    h.request({ method: 'GET', url: `/entries/${id}`, headers: { ...user.auth, ...headers } })
  const patch = (user: SignedIn, id: number | string, payload: unknown, headers: Headers = {}) =>
    h.request({ method: 'PATCH', url: `/entries/${id}`, headers: { ...user.auth, ...headers }, payload: payload as object })
  const remove = (user: SignedIn, id: number | string, headers: Headers = {}) =>
    h.request({ method: 'DELETE', url: `/entries/${id}`, headers: { ...user.auth, ...headers } })
  const rowsOf = async (user: SignedIn) =>
    (await h.db.query<{ n: number }>('select count(*)::int as n from entries where user_id = $1', [user.id]))[0]!.n

  test('when a user writes an entry, then it comes back with Location, ETag and exactly the entry fields', async () => {
    const user = await signUp(h)
    const created = await post(user, {
      text: 'Long walk by the river',
      mood: 7,
      category: '  Outdoors ',
      occurredAt: '2024-03-10T08:30:00.250+02:00',
    })
    assert.equal(created.statusCode, 201, created.body)
    const entry = created.json()
    assert.deepEqual(Object.keys(entry).sort(), ENTRY_KEYS)
    assert.equal(created.headers.location, `/entries/${entry.id}`)
    assert.equal(created.headers.etag, `"${entry.id}-1"`)
    assert.equal(entry.category, 'Outdoors', 'category is trimmed')
    assert.equal(entry.occurredAt, '2024-03-10T06:30:00.250Z', 'the same instant, in UTC')
    assert.equal(entry.version, 1)

    const read = await get(user, entry.id)
    assert.equal(read.statusCode, 200)
    assert.deepEqual(read.json(), entry)
    assert.equal(read.headers.etag, created.headers.etag)

    const before = Date.now()
    const now = (await post(user, { text: 'no time given', mood: 5, category: 'misc' })).json()
    assert.ok(Math.abs(Date.parse(now.occurredAt) - before) < 60_000, 'occurredAt defaults to now')
  })

  test('when the body carries userId, id, version or any unknown field, then 400 names it and nothing is stored', async () => {
    const user = await signUp(h)
    const other = await signUp(h)
    const valid = { text: 'hello', mood: 5, category: 'misc' }
    for (const [field, value] of [
      ['userId', other.id],
      ['id', 1],
      ['version', 9],
      ['createdAt', '2024-01-01T00:00:00Z'],
      ['user_id', other.id],
    ] as const) {
      const res = await post(user, { ...valid, [field]: value })
      assert.equal(res.statusCode, 400, field)
      assert.equal(res.headers['content-type'], PROBLEM)
      assert.deepEqual(res.json().errors, [{ field, message: 'is not an allowed field' }])
    }
    assert.equal(await rowsOf(user), 0)
    assert.equal(await rowsOf(other), 0)

    const entry = await createEntry(h, user, valid)
    for (const field of ['userId', 'id', 'version']) {
      const res = await patch(user, entry.id, { [field]: field === 'userId' ? other.id : 99 })
      assert.equal(res.statusCode, 400, field)
      assert.equal(res.json().errors[0].field, field)
    }
    assert.deepEqual((await get(user, entry.id)).json(), entry, 'unchanged')
  })

  test('when a field is missing, out of range or the wrong type, then 400 names the field (never 500)', async () => {
    const user = await signUp(h)
    const valid = { text: 'fine', mood: 5, category: 'misc' }
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ text: '' }, 'text'],
      [{ text: 'x'.repeat(10_001) }, 'text'],
      [{ text: 'before\u0000after' }, 'text'],
      [{ text: 'lone \ud800 surrogate' }, 'text'],
      [{ text: 42 }, 'text'],
      [{ mood: 0 }, 'mood'],
      [{ mood: 11 }, 'mood'],
      [{ mood: 5.5 }, 'mood'],
      [{ mood: '5' }, 'mood'],
      [{ category: '   ' }, 'category'],
      [{ category: 'c'.repeat(51) }, 'category'],
      [{ category: 'nul\u0000' }, 'category'],
      [{ occurredAt: '2024-03-10T08:30:00' }, 'occurredAt'],
      [{ occurredAt: '2024-03-10' }, 'occurredAt'],
      [{ occurredAt: '2024-02-30T08:30:00Z' }, 'occurredAt'],
      [{ occurredAt: '0000-01-01T00:00:00Z' }, 'occurredAt'],
      [{ occurredAt: '2024-03-10T08:30:00+24:00' }, 'occurredAt'],
      [{ occurredAt: 'yesterday' }, 'occurredAt'],
      [{ occurredAt: 1710059400000 }, 'occurredAt'],
    ]
    for (const [change, field] of cases) {
      const res = await post(user, { ...valid, ...change })
      assert.equal(res.statusCode, 400, `${JSON.stringify(change).slice(0, 60)} → ${res.body}`)
      assert.ok(
        res.json().errors.some((e: { field: string }) => e.field === field),
        res.body,
      )
    }
    for (const field of ['text', 'mood', 'category']) {
      const { [field]: _omitted, ...rest } = valid as Record<string, unknown>
      const res = await post(user, rest)
      assert.equal(res.statusCode, 400)
      assert.deepEqual(res.json().errors, [{ field, message: 'is required' }])
    }
    assert.equal(await rowsOf(user), 0)
    // The limits themselves are allowed.
    const longest = await createEntry(h, user, { text: '𝄞'.repeat(10_000), mood: 10, category: ` ${'c'.repeat(50)} ` })
    assert.equal([...longest.text].length, 10_000, '10,000 characters, counted as code points')
    assert.equal(longest.category, 'c'.repeat(50))
  })

  test('when occurredAt is outside 1900..9999 in UTC or would not come back as sent, then 400 and every read keeps working', async () => {
    const user = await signUp(h)
    const kept = await createEntry(h, user, { text: 'before the attempts', mood: 5, category: 'misc' })
    const outside = 'must be between 1900-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z'
    for (const [occurredAt, message] of [
      ['0001-01-01T00:00:00+01:00', outside], // 1 BC in UTC: used to be stored, then every list was a 500
      ['0001-01-01T00:00:00Z', outside], // used to come back as 2001
      ['0049-12-31T00:00:00Z', outside],
      ['1899-12-31T23:59:59.999Z', outside],
      ['1900-01-01T00:59:59+01:00', outside],
      ['9999-12-31T23:59:59-01:00', outside], // year 10000 in UTC: used to come back as "+010000-…"
      ['1999-12-31T23:59:60Z', 'must be an RFC 3339 date-time with an offset, e.g. 2024-05-01T18:30:00+02:00'],
      ['2024-01-01T00:00:00.1234567Z', 'must have at most 3 fraction digits (milliseconds)'],
    ]) {
      for (const res of [
        await post(user, { text: 'x', mood: 5, category: 'misc', occurredAt }),
        await patch(user, kept.id, { occurredAt }),
      ]) {
        assert.equal(res.statusCode, 400, `${occurredAt}: ${res.body}`)
        assert.equal(res.headers['content-type'], PROBLEM)
        assert.deepEqual(res.json().errors, [{ field: 'occurredAt', message }], occurredAt)
      }
    }
    assert.equal(await rowsOf(user), 1)
    assert.deepEqual((await get(user, kept.id)).json(), kept, 'unchanged')

    // Both ends of the range, and sub-millisecond zeros, are stored and read back exactly.
    const first = await createEntry(h, user, { text: 'first', mood: 5, category: 'misc', occurredAt: '1900-01-01T01:00:00+01:00' })
    const last = await createEntry(h, user, { text: 'last', mood: 5, category: 'misc', occurredAt: '9999-12-31T23:59:59.999000Z' })
    assert.equal(first.occurredAt, '1900-01-01T00:00:00.000Z')
    assert.equal(last.occurredAt, '9999-12-31T23:59:59.999Z')
    assert.equal((await patch(user, kept.id, { occurredAt: '9999-12-31T23:59:59.999+00:00' })).json().occurredAt, last.occurredAt)
    const listed = await listEntries(h, user, { limit: 1 })
    assert.equal(listed.statusCode, 200, listed.body)
    const { pages } = await walkByCursor(h, user, { limit: 1 })
    assert.deepEqual(
      pages.flat().map((item) => [item.text, item.occurredAt]),
      [
        ['last', '9999-12-31T23:59:59.999Z'], // same instant as the next: the higher id first
        ['before the attempts', '9999-12-31T23:59:59.999Z'],
        ['first', '1900-01-01T00:00:00.000Z'],
      ],
    )
  })

  test('when text holds emoji, right-to-left script and 4-byte characters, then it round-trips byte for byte', async () => {
    const user = await signUp(h)
    const text = 'Family 👨‍👩‍👧‍👦 and 🇩🇪; clef 𝄞; CJK Ext-B 𠜎𠜱; שלום עולם; مرحبا بالعالم; \u202Eoverride\u202C; e\u0301; tab\tnew\nline'
    const category = 'مزاج 😀'
    const entry = await createEntry(h, user, { text, mood: 8, category })
    const read = (await get(user, entry.id)).json()
    const listed = (await listEntries(h, user, { q: 'שלום' })).json().items
    for (const got of [entry, read, listed[0]]) {
      assert.ok(Buffer.from(got.text, 'utf8').equals(Buffer.from(text, 'utf8')))
      assert.ok(Buffer.from(got.category, 'utf8').equals(Buffer.from(category, 'utf8')))
    }
    assert.equal(listed.length, 1, 'found by a right-to-left word')
  })

  test("when user B reads, changes or deletes user A's entry, then B gets the same 404 as for a missing one, and never sees it", async () => {
    const a = await signUp(h)
    const b = await signUp(h)
    const secret = `zebra${randomUUID().slice(0, 8)}`
    const entry = await createEntry(h, a, { text: `private note ${secret}`, mood: 2, category: 'Secret' })
    await createEntry(h, b, { text: 'my own note', mood: 6, category: 'Other' })
    const missing = entry.id + 1_000_000
    const comparable = (res: { statusCode: number; json(): any }) => ({
      status: res.statusCode,
      ...res.json(),
      requestId: undefined,
      instance: undefined,
    })

    const attempts = {
      read: [await get(b, entry.id), await get(b, missing)],
      patch: [await patch(b, entry.id, { mood: 9 }), await patch(b, missing, { mood: 9 })],
      'patch with If-Match': [
        await patch(b, entry.id, { mood: 9 }, { 'if-match': `"${entry.id}-1"` }),
        await patch(b, missing, { mood: 9 }, { 'if-match': `"${missing}-1"` }),
      ],
      delete: [await remove(b, entry.id), await remove(b, missing)],
      'delete with If-Match': [
        await remove(b, entry.id, { 'if-match': `"${entry.id}-1"` }),
        await remove(b, missing, { 'if-match': `"${missing}-1"` }),
      ],
    }
    for (const [name, pair] of Object.entries(attempts)) {
      const [theirs, none] = pair as [(typeof pair)[0] & object, (typeof pair)[0] & object]
      assert.equal(theirs.statusCode, 404, name)
      assert.deepEqual(comparable(theirs), comparable(none), name)
      assert.equal(theirs.headers.etag, undefined, name)
    }
    assert.deepEqual((await get(a, entry.id)).json(), entry, "A's entry is untouched")

    for (const params of [{}, { q: secret }, { category: 'secret' }, { moodMax: 2 }, { page: 1 }]) {
      const page = (await listEntries(h, b, params)).json()
      assert.ok(!page.items.some((item: { id: number }) => item.id === entry.id), JSON.stringify(params))
      assert.ok(!JSON.stringify(page).includes(secret))
    }
    assert.equal((await listEntries(h, b, { q: secret })).json().total, 0)
    assert.equal((await listEntries(h, b, {})).json().total, 1)
  })

  test('when the id in the path is not a plain positive number, then 400, never 500', async () => {
    const user = await signUp(h)
    for (const id of ['abc', '0', '-1', '1.5', '1e3', '0x10', '99999999999999999999', '9223372036854775808', '%00', '%20%201', '1%00']) {
      for (const res of [await get(user, id), await patch(user, id, { mood: 3 }), await remove(user, id)]) {
        assert.equal(res.statusCode, 400, `${id}: ${res.body}`)
        assert.equal(res.json().errors[0].field, 'params.id')
      }
    }
    assert.equal((await get(user, '999999999999999')).statusCode, 404, 'the largest accepted id is simply not found')
  })

  test('when If-None-Match names the current ETag, then 304; after a change, the full entry with the new ETag', async () => {
    const user = await signUp(h)
    const entry = await createEntry(h, user, { text: 'cache me', mood: 4, category: 'misc' })
    const etag = `"${entry.id}-1"`
    for (const header of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const res = await get(user, entry.id, { 'if-none-match': header })
      assert.equal(res.statusCode, 304, header)
      assert.equal(res.body, '')
      assert.equal(res.headers.etag, etag)
    }
    assert.equal((await patch(user, entry.id, { mood: 5 })).statusCode, 200)
    const changed = await get(user, entry.id, { 'if-none-match': etag })
    assert.equal(changed.statusCode, 200)
    assert.equal(changed.headers.etag, `"${entry.id}-2"`)
    assert.equal(changed.json().mood, 5)
  })

  test('when PATCH sends some fields, then only those change and the version moves on; a stale If-Match is 412', async () => {
    const user = await signUp(h)
    const entry = await createEntry(h, user, { text: 'first draft', mood: 4, category: 'Work', occurredAt: '2024-05-01T09:00:00Z' })
    const first = await patch(user, entry.id, { mood: 3, category: ' Home ' })
    assert.equal(first.statusCode, 200, first.body)
    const v2 = first.json()
    assert.deepEqual({ ...v2, updatedAt: undefined }, { ...entry, mood: 3, category: 'Home', version: 2, updatedAt: undefined })
    assert.ok(Date.parse(v2.updatedAt) >= Date.parse(entry.updatedAt))
    assert.equal(first.headers.etag, `"${entry.id}-2"`)

    for (const [body, field] of [
      [{}, '(root)'],
      [{ text: null }, 'text'],
      [{ category: '  ' }, 'category'],
      [{ occurredAt: '2024-05-01 09:00' }, 'occurredAt'],
    ] as const) {
      const res = await patch(user, entry.id, body)
      assert.equal(res.statusCode, 400, JSON.stringify(body))
      assert.equal(res.json().errors[0].field, field)
    }

    const stale = await patch(user, entry.id, { text: 'lost update' }, { 'if-match': `"${entry.id}-1"` })
    assert.equal(stale.statusCode, 412)
    assert.equal(stale.headers['content-type'], PROBLEM)
    assert.equal(
      (await patch(user, entry.id, { text: 'x' }, { 'if-match': `W/"${entry.id}-2"` })).statusCode,
      412,
      'If-Match compares strongly',
    )
    assert.equal((await patch(user, entry.id, { text: 'x' }, { 'if-match': `"${entry.id + 1}-2"` })).statusCode, 412, "another entry's tag")
    assert.equal((await patch(user, entry.id, { text: 'x' }, { 'if-match': 'not-a-tag' })).statusCode, 400)

    const current = await patch(
      user,
      entry.id,
      { text: 'second draft', occurredAt: '2024-05-02T10:00:00-03:00' },
      { 'if-match': `"${entry.id}-1", "${entry.id}-2"` },
    )
    assert.equal(current.statusCode, 200)
    assert.equal(current.json().text, 'second draft')
    assert.equal(current.json().occurredAt, '2024-05-02T13:00:00.000Z')
    assert.equal((await patch(user, entry.id, { mood: 1 }, { 'if-match': '*' })).json().version, 4)
  })

  test('when PATCH or DELETE carries If-None-Match naming the current version or *, then 412 and nothing changes', async () => {
    const user = await signUp(h)
    const entry = await createEntry(h, user, { text: 'guarded', mood: 4, category: 'misc' })
    const current = `"${entry.id}-1"`
    for (const header of [current, `W/${current}`, `"${entry.id}-7", ${current}`, '*']) {
      for (const res of [
        await patch(user, entry.id, { mood: 9 }, { 'if-none-match': header }),
        await remove(user, entry.id, { 'if-none-match': header }),
      ]) {
        assert.equal(res.statusCode, 412, `${header}: ${res.body}`)
        assert.equal(res.headers['content-type'], PROBLEM)
      }
    }
    assert.deepEqual((await get(user, entry.id)).json(), entry, 'unchanged')
    assert.equal((await patch(user, entry.id, { mood: 1 }, { 'if-none-match': 'nope' })).statusCode, 400, 'a malformed header')
    assert.equal((await patch(user, entry.id + 1_000_000, { mood: 1 }, { 'if-none-match': '*' })).statusCode, 404)

    // Another version (or another entry's tag) does not stop the write; with If-Match both must hold.
    const changed = await patch(user, entry.id, { mood: 6 }, { 'if-none-match': `"${entry.id}-5", "${entry.id + 1}-1"` })
    assert.equal(changed.statusCode, 200, changed.body)
    assert.equal(changed.json().version, 2)
    const both = await patch(user, entry.id, { mood: 7 }, { 'if-match': `"${entry.id}-2"`, 'if-none-match': `"${entry.id}-2"` })
    assert.equal(both.statusCode, 412)
    assert.equal((await remove(user, entry.id, { 'if-none-match': current })).statusCode, 204, 'version 1 is no longer current')
    assert.equal((await get(user, entry.id)).statusCode, 404)
  })

  test('when two PATCHes race with the same If-Match, then exactly one wins and the other gets 412', async () => {
    const user = await signUp(h)
    for (let round = 0; round < 5; round++) {
      const entry = await createEntry(h, user, { text: 'contested', mood: 5, category: 'misc' })
      const ifMatch = { 'if-match': `"${entry.id}-1"` }
      const results = await Promise.all([
        patch(user, entry.id, { text: 'from A' }, ifMatch),
        patch(user, entry.id, { text: 'from B' }, ifMatch),
      ])
      assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 412])
      const winner = results.find((r) => r.statusCode === 200)!.json()
      const final = (await get(user, entry.id)).json()
      assert.equal(final.version, 2)
      assert.equal(final.text, winner.text)
    }
  })

  test('when DELETE carries a stale If-Match, then 412 and the entry stays; with the current one, 204 and it is gone', async () => {
    const user = await signUp(h)
    const entry = await createEntry(h, user, { text: 'to be deleted', mood: 5, category: 'misc' })
    assert.equal((await listEntries(h, user, {})).json().items[0].mood, 5)
    await patch(user, entry.id, { mood: 6 })
    assert.equal((await listEntries(h, user, {})).json().items[0].mood, 6, 'a listing never lags behind a write')
    assert.equal((await remove(user, entry.id, { 'if-match': `"${entry.id}-1"` })).statusCode, 412)
    assert.equal((await get(user, entry.id)).statusCode, 200)
    const deleted = await remove(user, entry.id, { 'if-match': `"${entry.id}-2"` })
    assert.equal(deleted.statusCode, 204)
    assert.equal(deleted.body, '')
    assert.equal((await get(user, entry.id)).statusCode, 404)
    assert.equal((await remove(user, entry.id)).statusCode, 404)
    assert.equal((await listEntries(h, user, {})).json().total, 0)
    const plain = await createEntry(h, user, { text: 'no precondition', mood: 5, category: 'misc' })
    assert.equal((await remove(user, plain.id)).statusCode, 204)
  })
})
