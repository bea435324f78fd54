import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createEntry, listEntries, newestFirst, walkByCursor } from '../../test/support/entries.js'
import { describeEachBackend } from '../../test/support/harness.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

const PROBLEM = 'application/problem+json; charset=utf-8'
const BASE = Date.parse('2024-06-01T12:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString()
const ids = (items: Array<{ id: number }>) => items.map((item) => item.id)

describeEachBackend('listing entries', (h) => {
  /** n entries an hour apart going back from BASE, every third pair sharing a timestamp (id breaks the tie). */
  async function seed(user: SignedIn, n: number, start = BASE) {
    const created = []
    for (let i = 0; i < n; i++) {
      created.push(
        await createEntry(h, user, {
          text: `entry ${i}`,
          mood: (i % 10) + 1,
          category: 'log',
          occurredAt: iso(start - Math.floor(i / 2) * 3_600_000),
        }),
      )
    }
    return newestFirst(created)
  }

  test('when 55 entries are walked 20 at a time by cursor, then each comes exactly once, newest first', async () => {
    const user = await signUp(h)
    const expected = await seed(user, 55)
    const { pages, totals } = await walkByCursor(h, user, { limit: 20 })
    assert.deepEqual(
      pages.map((p) => p.length),
      [20, 20, 15],
    )
    assert.deepEqual(totals, [55, 55, 55])
    assert.deepEqual(ids(pages.flat()), ids(expected))
    assert.deepEqual(pages.flat(), expected, 'items are the entries as created')
  })

  test('when entries are added between pages, then the walk still returns every original entry once, in order', async () => {
    const user = await signUp(h)
    const expected = await seed(user, 55)
    const added: number[] = []
    const { pages } = await walkByCursor(h, user, { limit: 20 }, async (page) => {
      // Newer than everything (already passed by the walk), among the entries still ahead, and older than all.
      for (const at of [BASE + 3_600_000, BASE - (page + 1) * 10 * 3_600_000, BASE - 100 * 3_600_000]) {
        added.push((await createEntry(h, user, { text: `added after page ${page}`, mood: 5, category: 'log', occurredAt: iso(at) })).id)
      }
    })
    const seen = ids(pages.flat())
    assert.equal(new Set(seen).size, seen.length, 'no entry twice')
    assert.deepEqual(
      seen.filter((id) => !added.includes(id)),
      ids(expected),
    )
    const positions = pages.flat().map((item) => [Date.parse(item.occurredAt), item.id] as const)
    for (let i = 1; i < positions.length; i++) {
      const [prev, cur] = [positions[i - 1]!, positions[i]!]
      assert.ok(prev[0] > cur[0] || (prev[0] === cur[0] && prev[1] > cur[1]), 'strictly newest first')
    }
  })

  test('when entries differ only in microseconds, then the cursor still walks them exactly once, in order', async () => {
    const user = await signUp(h)
    // The API keeps milliseconds; an import keeps the microseconds of its file, as these rows do.
    const insert = async (us: string) => {
      const rows = await h.db.query<{ id: number }>(
        `insert into entries (user_id, text, mood, category, occurred_at) values ($1, $2, 5, 'log', $3::text::timestamptz) returning id`,
        [user.id, `at ${us}`, `2024-06-01T12:00:00.000${us}Z`],
      )
      return rows[0]!.id
    }
    const a = await insert('001')
    const b = await insert('002')
    const c = await insert('001')
    const older = await createEntry(h, user, {
      text: 'a millisecond earlier',
      mood: 5,
      category: 'log',
      occurredAt: '2024-06-01T11:59:59.999Z',
    })
    const { pages } = await walkByCursor(h, user, { limit: 1 })
    assert.deepEqual(ids(pages.flat()), [b, c, a, older.id])
  })

  test('when page mode is used, then pages slice the same order and total and totalPages add up', async () => {
    const user = await signUp(h)
    const expected = await seed(user, 55)
    for (const page of [1, 2, 3, 4]) {
      const res = await listEntries(h, user, { limit: 20, page })
      assert.equal(res.statusCode, 200)
      const body = res.json()
      assert.deepEqual(ids(body.items), ids(expected.slice((page - 1) * 20, page * 20)), `page ${page}`)
      assert.equal(body.total, 55)
      assert.equal(body.totalPages, 3)
      assert.equal(body.page, page)
      assert.equal(body.nextCursor === null, page >= 3, `nextCursor on page ${page}`)
    }
    // A page's nextCursor continues where the page ended.
    const first = (await listEntries(h, user, { limit: 20, page: 1 })).json()
    const next = (await listEntries(h, user, { limit: 20, cursor: first.nextCursor })).json()
    assert.deepEqual(ids(next.items), ids(expected.slice(20, 40)))
    assert.equal(next.page, undefined)
    assert.equal(next.totalPages, undefined)
    const all = (await listEntries(h, user, { limit: 100, page: 1 })).json()
    assert.deepEqual([all.total, all.totalPages, all.items.length], [55, 1, 55])
    const fresh = await signUp(h)
    assert.deepEqual((await listEntries(h, fresh, { page: 1 })).json(), { items: [], nextCursor: null, total: 0, page: 1, totalPages: 0 })
    assert.deepEqual((await listEntries(h, fresh, {})).json(), { items: [], nextCursor: null, total: 0 })
  })

  test('when filters are used alone or together, then each pagination mode returns exactly the matching entries', async () => {
    const user = await signUp(h)
    const other = await signUp(h)
    const categories = ['Work', 'work', 'WORK ', 'Family', 'Sport', 'Workout']
    const phrases = [
      'walked the dog in the park',
      'deadline stress at work',
      'dog park again',
      'quiet evening reading',
      'the dog walked me',
      'Stress-free run',
    ]
    const created = []
    for (let i = 0; i < 36; i++) {
      created.push(
        await createEntry(h, user, {
          text: `${phrases[i % phrases.length]} #${i}`,
          mood: ((i * 7) % 10) + 1,
          category: categories[i % categories.length]!,
          occurredAt: iso(BASE - i * 5 * 3_600_000),
        }),
      )
    }
    await createEntry(h, other, { text: 'walked the dog in the park', mood: 5, category: 'work', occurredAt: iso(BASE) })
    const all = newestFirst(created)
    const words = (text: string) =>
      text
        .toLowerCase()
        .split(/[^a-z0-9]+/)
        .filter(Boolean)
    const has = (text: string, word: string) => words(text).includes(word)
    const from = iso(BASE - 60 * 3_600_000)
    const to = iso(BASE - 20 * 3_600_000)
    const inRange = (e: any, lo?: string, hi?: string) =>
      (!lo || Date.parse(e.occurredAt) >= Date.parse(lo)) && (!hi || Date.parse(e.occurredAt) < Date.parse(hi))

    const cases: Array<[Record<string, string | number>, (e: any) => boolean]> = [
      [{ category: 'work' }, (e) => e.category.toLowerCase() === 'work'],
      [{ category: ' FAMILY ' }, (e) => e.category === 'Family'],
      [{ moodMin: 7 }, (e) => e.mood >= 7],
      [{ moodMax: 3 }, (e) => e.mood <= 3],
      [{ moodMin: 4, moodMax: 6 }, (e) => e.mood >= 4 && e.mood <= 6],
      [{ moodMin: 5, moodMax: 5 }, (e) => e.mood === 5],
      [{ from }, (e) => inRange(e, from)],
      [{ to }, (e) => inRange(e, undefined, to)],
      [{ from, to }, (e) => inRange(e, from, to)],
      [{ q: 'dog' }, (e) => has(e.text, 'dog')],
      [{ q: 'STRESS' }, (e) => has(e.text, 'stress')],
      [{ q: '"walked the dog"' }, (e) => e.text.includes('walked the dog')],
      [{ q: 'dog -park' }, (e) => has(e.text, 'dog') && !has(e.text, 'park')],
      [{ q: 'reading or run' }, (e) => has(e.text, 'reading') || has(e.text, 'run')],
      [{ q: 'nothingmatchesthis' }, () => false],
      [{ category: 'work', moodMin: 3 }, (e) => e.category.toLowerCase() === 'work' && e.mood >= 3],
      [{ q: 'dog', from, to }, (e) => has(e.text, 'dog') && inRange(e, from, to)],
      [
        { category: 'Work', moodMin: 2, moodMax: 9, from, q: 'stress' },
        (e) => e.category.toLowerCase() === 'work' && e.mood >= 2 && e.mood <= 9 && inRange(e, from) && has(e.text, 'stress'),
      ],
    ]
    for (const [filters, matches] of cases) {
      const label = JSON.stringify(filters)
      const expected = ids(all.filter(matches))
      const single = (await listEntries(h, user, { ...filters, limit: 100 })).json()
      assert.deepEqual(ids(single.items), expected, label)
      assert.equal(single.total, expected.length, label)
      const walked = await walkByCursor(h, user, { ...filters, limit: 4 })
      assert.deepEqual(ids(walked.pages.flat()), expected, `${label} by cursor`)
      const byPage = []
      for (let page = 1; page <= Math.max(1, Math.ceil(expected.length / 4)); page++) {
        const body = (await listEntries(h, user, { ...filters, limit: 4, page })).json()
        assert.equal(body.totalPages, Math.ceil(expected.length / 4), label)
        byPage.push(...body.items)
      }
      assert.deepEqual(ids(byPage), expected, `${label} by page`)
    }
    assert.ok(cases.every(([filters]) => Object.keys(filters).length > 0))
  })

  test('when from and to are the ends of the instant range, then the window holds every entry and the cursor walk works', async () => {
    const user = await signUp(h)
    const expected = newestFirst([
      await createEntry(h, user, { text: 'earliest', mood: 3, category: 'log', occurredAt: '1900-01-01T00:00:00Z' }),
      await createEntry(h, user, { text: 'middle', mood: 5, category: 'log', occurredAt: iso(BASE) }),
      await createEntry(h, user, { text: 'latest', mood: 7, category: 'log', occurredAt: '9999-12-31T23:59:59.999Z' }),
    ])
    const window = { from: '1900-01-01T00:00:00Z', to: '9999-12-31T23:59:59.999Z', limit: 1 }
    const { pages, totals } = await walkByCursor(h, user, window)
    assert.deepEqual(pages.flat(), expected.slice(1), '`to` is exclusive: the last instant itself is outside')
    assert.deepEqual(totals, [2, 2])
    const both = await listEntries(h, user, { from: '1900-01-01T01:00:00+01:00', to: '9999-12-31T23:59:59.999+01:00' })
    assert.deepEqual(ids(both.json().items), ids(expected.slice(1)))
  })

  test('when a parameter is malformed or out of range, then 400 problem+json names it', async () => {
    const user = await signUp(h)
    const stranger = await signUp(h)
    await seed(user, 5)
    const page = (await listEntries(h, user, { limit: 2 })).json()
    const cursor: string = page.nextCursor
    const [payload, mac] = cursor.split('.') as [string, string]
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString())
    const forged = `${Buffer.from(JSON.stringify({ ...decoded, i: decoded.i + 1 })).toString('base64url')}.${mac}`
    const flipped = `${payload.slice(0, -1)}${payload.endsWith('A') ? 'B' : 'A'}.${mac}`

    const cases: Array<[Record<string, string | number>, string, SignedIn?]> = [
      [{ limit: 0 }, 'query.limit'],
      [{ limit: 101 }, 'query.limit'],
      [{ limit: 'abc' }, 'query.limit'],
      [{ limit: '2.5' }, 'query.limit'],
      [{ limit: '' }, 'query.limit'],
      [{ page: 0 }, 'query.page'],
      [{ page: 'two' }, 'query.page'],
      [{ page: '99999999999999999999' }, 'query.page'],
      [{ moodMin: 0 }, 'query.moodMin'],
      [{ moodMax: 11 }, 'query.moodMax'],
      [{ moodMin: 'high' }, 'query.moodMin'],
      [{ moodMin: 7, moodMax: 3 }, 'query.moodMin'],
      [{ from: 'garbage' }, 'query.from'],
      [{ from: '2024-06-01T12:00:00' }, 'query.from'],
      [{ to: '2024-13-01T00:00:00Z' }, 'query.to'],
      [{ from: '2024-06-02T00:00:00Z', to: '2024-06-01T00:00:00Z' }, 'query.from'],
      [{ from: '1899-12-31T23:59:59.999Z' }, 'query.from'],
      [{ from: '0001-01-01T00:00:00+01:00' }, 'query.from'],
      [{ to: '9999-12-31T23:59:59-01:00' }, 'query.to'],
      [{ to: '2024-06-01T00:00:00.0001Z' }, 'query.to'],
      [{ category: '   ' }, 'query.category'],
      [{ category: 'a\u0000b' }, 'query.category'],
      [{ q: '' }, 'query.q'],
      [{ q: 'dog\u0000' }, 'query.q'],
      [{ cursor: 'garbage' }, 'query.cursor'],
      [{ cursor: 'abc.def' }, 'query.cursor'],
      [{ cursor: forged }, 'query.cursor'],
      [{ cursor: flipped }, 'query.cursor'],
      [{ cursor: `${cursor}x` }, 'query.cursor'],
      [{ cursor, limit: 2 }, 'query.cursor', stranger],
      [{ cursor, limit: 2, moodMin: 3 }, 'query.cursor'],
      [{ cursor, page: 2 }, 'query.page'],
      [{ sort: 'asc' }, 'query.sort'],
    ]
    for (const [params, field, who] of cases) {
      const res = await listEntries(h, who ?? user, params)
      const label = `${JSON.stringify(params).slice(0, 80)} → ${res.body.slice(0, 200)}`
      assert.equal(res.statusCode, 400, label)
      assert.equal(res.headers['content-type'], PROBLEM, label)
      assert.ok(
        res.json().errors.some((e: { field: string }) => e.field === field),
        label,
      )
    }
    const repeated = await h.request({ method: 'GET', url: '/entries?limit=10&limit=20', headers: user.auth })
    assert.equal(repeated.statusCode, 400)
    // The untouched cursor still works with its own filters.
    assert.equal((await listEntries(h, user, { cursor, limit: 2 })).statusCode, 200)
  })
})
