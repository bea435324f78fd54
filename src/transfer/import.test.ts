import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { before, test } from 'node:test'
import { buildApp } from '../app.js'
import { describeEachBackend, testConfig, type Harness } from '../../test/support/harness.js'
import { createEntry, listEntries } from '../../test/support/entries.js'
import { seedJournal, storedEntries } from '../../test/support/journal.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

const NDJSON = 'application/x-ndjson'
const CSV = 'text/csv'

function importFile(h: Harness, user: SignedIn, query: string, contentType: string, payload: string | Readable) {
  return h.request({ method: 'POST', url: `/import${query}`, headers: { ...user.auth, 'content-type': contentType }, payload })
}

/** Entries as a comparable list without ids: what must survive a round trip. */
const withoutIds = (entries: Array<Record<string, unknown>>) => entries.map(({ id: _id, ...rest }) => rest)

const line = (entry: Record<string, unknown>) => JSON.stringify(entry)
const ok = (i: number) => ({ text: `fine ${i}`, mood: 5, category: 'work', occurredAt: '2024-05-01T18:30:00+02:00' })

describeEachBackend('POST /import (moodlog NDJSON and CSV)', (h) => {
  let ada: SignedIn
  let source: Array<Record<string, unknown>>

  before(async () => {
    ada = await signUp(h)
    await seedJournal(h.db, ada.id)
    source = await storedEntries(h.db, ada.id)
  })

  for (const format of ['ndjson', 'csv'] as const) {
    test(`when a ${format} export is imported into a new account, then every field but the ids is identical, and a second import creates nothing`, async () => {
      const exported = await h.request({ method: 'GET', url: `/export?format=${format}`, headers: ada.auth })
      assert.equal(exported.statusCode, 200)
      const bea = await signUp(h)
      const query = format === 'ndjson' ? '?format=moodlog' : '?format=csv'
      const contentType = format === 'ndjson' ? NDJSON : CSV

      const dry = await importFile(h, bea, `${query}&dryRun=true`, contentType, exported.body)
      assert.equal(dry.statusCode, 200, dry.body)
      assert.deepEqual(dry.json(), { created: 2500, skipped: 0, invalid: [], invalidCount: 0 })
      assert.deepEqual(await storedEntries(h.db, bea.id), [], 'a dry run writes nothing')

      const first = await importFile(h, bea, query, contentType, exported.body)
      assert.equal(first.statusCode, 200, first.body)
      assert.deepEqual(first.json(), { created: 2500, skipped: 0, invalid: [], invalidCount: 0 })
      const imported = await storedEntries(h.db, bea.id)
      assert.deepEqual(withoutIds(imported), withoutIds(source))
      assert.notDeepEqual(
        imported.map((e) => e.id),
        source.map((e) => e.id),
        'the new account has ids of its own',
      )

      const again = await importFile(h, bea, query, contentType, exported.body)
      assert.deepEqual(again.json(), { created: 0, skipped: 2500, invalid: [], invalidCount: 0 })
      assert.equal((await storedEntries(h.db, bea.id)).length, 2500)
    })
  }

  for (const format of ['ndjson', 'csv'] as const) {
    test(`when a journal with two identical entries goes through a ${format} export and import, then both arrive, and a re-import creates nothing`, async () => {
      const cy = await signUp(h)
      const twin = { text: 'same walk', mood: 7, category: 'walks', occurredAt: '2024-06-01T07:00:00Z' }
      await createEntry(h, cy, twin)
      await createEntry(h, cy, twin)
      await createEntry(h, cy, { ...twin, text: 'other walk' })
      const exported = await h.request({ method: 'GET', url: `/export?format=${format}`, headers: cy.auth })
      assert.equal(exported.statusCode, 200)
      const dan = await signUp(h)
      const query = format === 'ndjson' ? '?format=moodlog' : '?format=csv'
      const contentType = format === 'ndjson' ? NDJSON : CSV

      const first = await importFile(h, dan, query, contentType, exported.body)
      assert.deepEqual(first.json(), { created: 3, skipped: 0, invalid: [], invalidCount: 0 })
      assert.deepEqual(withoutIds(await storedEntries(h.db, dan.id)), withoutIds(await storedEntries(h.db, cy.id)))
      const again = await importFile(h, dan, query, contentType, exported.body)
      assert.deepEqual(again.json(), { created: 0, skipped: 3, invalid: [], invalidCount: 0 })
      assert.equal((await storedEntries(h.db, dan.id)).length, 3)
    })
  }

  test('when the format is left out, then it follows the content type', async () => {
    const user = await signUp(h)
    const ndjson = await importFile(h, user, '', NDJSON, line(ok(1)))
    assert.deepEqual(ndjson.json(), { created: 1, skipped: 0, invalid: [], invalidCount: 0 })
    const csv = await importFile(h, user, '', CSV, 'text,mood,category,occurredAt\r\n"from csv",4,home,2024-05-02T08:00:00Z\r\n')
    assert.equal(csv.statusCode, 200, csv.body)
    assert.equal(csv.json().created, 1)
    const entries = await storedEntries(h.db, user.id)
    assert.deepEqual(
      entries.map((e) => [e.text, e.mood, e.category, e.version]),
      [
        ['fine 1', 5, 'work', 1],
        ['from csv', 4, 'home', 1],
      ],
    )
  })

  test('when rows break the entry rules, then nothing is written and the answer is 422 listing each with its line and field', async () => {
    const user = await signUp(h)
    // The bad rows come after a first full batch of good ones.
    const lines = Array.from({ length: 1002 }, (_, i) => line(ok(i)))
    lines.push(
      line({ ...ok(0), text: 'too happy', mood: 11 }),
      '',
      '{"text": "cut off',
      line({ ...ok(0), text: '', category: '   ' }),
      line({ text: 'no offset', mood: 5, category: 'work', occurredAt: '2024-05-01T18:30:00' }),
      line({ ...ok(0), text: 'extra', userId: 1 }),
      line({ ...ok(0), text: 'nul \u0000' }),
      line({ text: 'early', mood: 5, category: 'work', occurredAt: '1899-12-31T23:59:59Z' }),
      line(ok(2000)),
    )
    const res = await importFile(h, user, '', NDJSON, lines.join('\n'))
    assert.equal(res.statusCode, 422, res.body)
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/)
    const body = res.json()
    assert.equal(body.type, '/problems/invalid-rows')
    assert.equal(body.status, 422)
    assert.equal(body.created, 0)
    assert.equal(body.invalidCount, 7)
    assert.deepEqual(
      body.invalid.map((p: { line: number; field: string }) => [p.line, p.field]),
      [
        [1003, 'mood'],
        [1005, '(line)'],
        [1006, 'text'],
        [1006, 'category'],
        [1007, 'occurredAt'],
        [1008, 'userId'],
        [1009, 'text'],
        [1010, 'occurredAt'],
      ],
    )
    assert.match(body.invalid[0].message, /1 to 10/)
    assert.deepEqual(await storedEntries(h.db, user.id), [], 'not even the good rows')

    const dry = await importFile(h, user, '?dryRun=true', NDJSON, lines.join('\n'))
    assert.equal(dry.statusCode, 422, 'a dry run answers what the import would')

    const skipping = await importFile(h, user, '?skipInvalid=true', NDJSON, lines.join('\n'))
    assert.equal(skipping.statusCode, 200, skipping.body)
    assert.equal(skipping.json().created, 1003)
    assert.equal(skipping.json().invalidCount, 7)
    assert.equal((await storedEntries(h.db, user.id)).length, 1003)
  })

  test('when a row is already in the journal, then it is skipped; a row repeated in the file is written as often as the file has it', async () => {
    const user = await signUp(h)
    await createEntry(h, user, { text: 'already here', mood: 6, category: 'home', occurredAt: '2024-01-01T10:00:00Z' })
    const file = [
      line({ text: 'already here', mood: 6, category: 'home', occurredAt: '2024-01-01T11:00:00+01:00' }),
      line({ text: 'twice', mood: 3, category: 'home', occurredAt: '2024-01-02T10:00:00Z' }),
      line({ text: 'twice', mood: 3, category: 'home', occurredAt: '2024-01-02T10:00:00Z' }),
      // Differs in one field only: not a duplicate.
      line({ text: 'twice', mood: 4, category: 'home', occurredAt: '2024-01-02T10:00:00Z' }),
    ].join('\n')
    const res = await importFile(h, user, '', NDJSON, file)
    assert.deepEqual(res.json(), { created: 3, skipped: 1, invalid: [], invalidCount: 0 })
    assert.deepEqual(
      (await storedEntries(h.db, user.id)).map((e) => [e.text, e.mood]),
      [
        ['already here', 6],
        ['twice', 3],
        ['twice', 3],
        ['twice', 4],
      ],
    )
    const again = await importFile(h, user, '', NDJSON, file)
    assert.deepEqual(again.json(), { created: 0, skipped: 4, invalid: [], invalidCount: 0 })
  })

  test('when rows have no occurredAt, then they are invalid rows naming it, and importing the file again creates nothing', async () => {
    const user = await signUp(h)
    const ndjson = [line(ok(1)), line({ text: 'when?', mood: 5, category: 'work' })].join('\n')
    const csv = 'text,mood,category,occurredAt\r\n"when, in csv?",5,work,\r\n'
    const csvWithoutColumn = 'text,mood,category\r\n"no column",5,work\r\n'
    for (const [contentType, file] of [
      [NDJSON, ndjson],
      [CSV, csv],
      [CSV, csvWithoutColumn],
    ] as const) {
      const res = await importFile(h, user, '', contentType, file)
      assert.equal(res.statusCode, 422, res.body)
      assert.deepEqual(
        res.json().invalid.map((p: { line: number; field: string }) => [p.line, p.field]),
        [[2, 'occurredAt']],
      )
      assert.match(res.json().invalid[0].message, /required/)
    }
    assert.deepEqual(await storedEntries(h.db, user.id), [], 'all or nothing')

    for (let run = 1; run <= 2; run++) {
      const res = await importFile(h, user, '?skipInvalid=true', NDJSON, ndjson)
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual([res.json().created, res.json().skipped, res.json().invalidCount], run === 1 ? [1, 0, 1] : [0, 1, 1])
    }
    assert.deepEqual(
      (await storedEntries(h.db, user.id)).map((e) => e.text),
      ['fine 1'],
    )
  })

  test('when the journal was listed before an import, then the next listing shows the imported entries', async () => {
    const user = await signUp(h)
    assert.equal((await listEntries(h, user, {})).json().total, 0)
    await importFile(h, user, '', NDJSON, line(ok(1)))
    assert.equal((await listEntries(h, user, {})).json().total, 1)
  })

  test('when the CSV is not moodlog’s or not CSV at all, then the answer is 400 naming the problem', async () => {
    const user = await signUp(h)
    const daylio = await importFile(h, user, '?format=csv', CSV, 'full_date,date,weekday,time,mood,activities,note_title,note\r\n')
    assert.equal(daylio.statusCode, 400)
    assert.match(daylio.json().detail, /format=daylio/)
    const broken = await importFile(h, user, '?format=csv', CSV, 'text,mood,category\r\n"never closed,5,work\r\n')
    assert.equal(broken.statusCode, 400)
    assert.match(broken.json().detail, /not valid CSV/)
    const strayQuote = await importFile(h, user, '?format=csv', CSV, 'text,mood,category\r\nok,5,work\r\n{"mood":1},5,work\r\n')
    assert.equal(strayQuote.statusCode, 400)
    assert.match(strayQuote.json().detail, /not valid CSV/)
    const ragged = await importFile(
      h,
      user,
      '?format=csv',
      CSV,
      'text,mood,category,occurredAt\r\n"multi\nline",5,work,2024-05-01T00:00:00Z\r\nshort,5\r\n',
    )
    assert.equal(ragged.statusCode, 422)
    assert.deepEqual(ragged.json().invalid, [{ line: 4, field: '(row)', message: 'has 2 fields; the header has 4' }])
  })

  test('when a file is not UTF-8 or has an endless line, then the answer is 400 naming the line and nothing is written', async () => {
    const user = await signUp(h)
    const latin1 = (text: string) => Buffer.concat([Buffer.from(text), Buffer.from([0xe9]), Buffer.from(' caf\n')])
    const ndjson = await importFile(h, user, '?format=moodlog', NDJSON, Readable.from([latin1(`${line(ok(1))}\n${line(ok(2))}\n`)]))
    assert.equal(ndjson.statusCode, 400, ndjson.body)
    assert.match(ndjson.json().detail, /Line 3 is not UTF-8/)
    const csv = await importFile(h, user, '?format=csv', CSV, Readable.from([latin1('text,mood,category\r\n"two\nlines",5,work\r\n')]))
    assert.equal(csv.statusCode, 400, csv.body)
    assert.match(csv.json().detail, /Line 4 is not UTF-8/)
    // Split inside a multi-byte character across chunks: still UTF-8.
    const euro = Buffer.from(`text,mood,category,occurredAt\r\nprice €5,5,work,2024-05-01T00:00:00Z\r\n`)
    const at = euro.indexOf(0xe2) + 1
    const split = await importFile(h, user, '?format=csv', CSV, Readable.from([euro.subarray(0, at), euro.subarray(at)]))
    assert.equal(split.statusCode, 200, split.body)
    const endless = await importFile(
      h,
      user,
      '?format=moodlog',
      NDJSON,
      Readable.from([`${line(ok(3))}\n`, ...Array(40).fill('x'.repeat(64 * 1024))]),
    )
    assert.equal(endless.statusCode, 400, endless.body)
    assert.match(endless.json().detail, /Line 2 is longer than/)
    assert.deepEqual(
      (await listEntries(h, user, {})).json().items.map((e: any) => e.text),
      ['price €5'],
    )
  })

  test('when a file starts with a byte order mark, then it is read as if it had none', async () => {
    const user = await signUp(h)
    const res = await importFile(h, user, '?format=csv', CSV, '\uFEFFtext,mood,category,occurredAt\r\nbom,5,work,2024-05-01T00:00:00Z\r\n')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json().created, 1)
  })

  test('when the content type does not fit the format, or is none of the three, then the answer is 415', async () => {
    const user = await signUp(h)
    assert.equal((await importFile(h, user, '?format=moodlog', CSV, 'x')).statusCode, 415)
    assert.equal((await importFile(h, user, '?format=csv', NDJSON, 'x')).statusCode, 415)
    const xml = await importFile(h, user, '', 'application/xml', '<x/>')
    const none = await h.request({ method: 'POST', url: '/import', headers: user.auth, payload: line(ok(1)) })
    const empty = await h.request({ method: 'POST', url: '/import', headers: user.auth })
    for (const res of [xml, none, empty]) {
      assert.equal(res.statusCode, 415, res.body)
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/)
      assert.equal(res.json().type, '/problems/unsupported-media-type')
      for (const type of ['application/x-ndjson', 'text/csv', 'application/json']) assert.ok(res.json().detail.includes(type), res.body)
    }
    assert.deepEqual(await storedEntries(h.db, user.id), [])
  })
})

describeEachBackend('POST /import size limit', (h) => {
  test('when the file is larger than IMPORT_MAX_BYTES, then the answer is 413 and nothing is written, declared or streamed', async () => {
    const user = await signUp(h)
    const app = await buildApp(testConfig({ IMPORT_MAX_BYTES: '2048' }), { db: h.db, logger: false })
    try {
      const file = Array.from({ length: 100 }, (_, i) => line(ok(i))).join('\n')
      assert.ok(file.length > 2048)
      const headers = { ...user.auth, 'content-type': NDJSON }
      const declared = await app.inject({ method: 'POST', url: '/import', headers, payload: file })
      assert.equal(declared.statusCode, 413, declared.body)
      assert.equal(declared.json().type, '/problems/body-too-large')
      // Chunked, without a length: counted as it streams.
      const streamed = await app.inject({
        method: 'POST',
        url: '/import',
        headers,
        payload: Readable.from([file.slice(0, 1500), file.slice(1500)]),
      })
      assert.equal(streamed.statusCode, 413, streamed.body)
      assert.deepEqual(await storedEntries(h.db, user.id), [])
      const small = await app.inject({ method: 'POST', url: '/import', headers, payload: line(ok(1)) })
      assert.equal(small.statusCode, 200, small.body)
    } finally {
      await app.close()
    }
  })
})

describeEachBackend('POST /import and webhooks', (h) => {
  test('when entries are imported, then no entry.created event is recorded unless notify=true, and then one per new entry', async () => {
    const user = await signUp(h)
    await h.db.query(`insert into webhook_endpoints (user_id, url, events, secret) values ($1, 'http://127.0.0.1:9/hook', $2, $3)`, [
      user.id,
      ['entry.created'],
      `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
    ])
    const events = async () =>
      (
        await h.db.query<{ n: number }>(
          `select count(*)::int as n from webhook_deliveries where user_id = $1 and event_type = 'entry.created'`,
          [user.id],
        )
      )[0]!.n
    const file = [line(ok(1)), line(ok(2))].join('\n')
    assert.equal((await importFile(h, user, '', NDJSON, file)).json().created, 2)
    assert.equal(await events(), 0, 'a quiet import')
    const more = [line(ok(2)), line(ok(3)), line(ok(4))].join('\n')
    assert.deepEqual((await importFile(h, user, '?notify=true', NDJSON, more)).json(), {
      created: 2,
      skipped: 1,
      invalid: [],
      invalidCount: 0,
    })
    assert.equal(await events(), 2, 'one event per entry actually created')
    assert.equal((await importFile(h, user, '?notify=true&dryRun=true', NDJSON, [line(ok(5))].join('\n'))).json().created, 1)
    assert.equal(await events(), 2, 'a dry run records nothing')
  })
})
