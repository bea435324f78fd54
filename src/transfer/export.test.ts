import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { before, test } from 'node:test'
import { parse } from 'csv-parse/sync'
import { buildApp } from '../app.js'
import { describeEachBackend, testConfig, type Harness } from '../../test/support/harness.js'
import { createEntry } from '../../test/support/entries.js'
import { seedJournal, storedEntries } from '../../test/support/journal.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

function exportOf(h: Harness, user: SignedIn, query: string) {
  return h.request({ method: 'GET', url: `/export${query}`, headers: user.auth })
}

describeEachBackend('GET /export', (h) => {
  let ada: SignedIn
  let stored: Array<Record<string, unknown>>

  // A journal of 2,500 entries, and someone else's that must not travel.
  before(async () => {
    ada = await signUp(h)
    await seedJournal(h.db, ada.id)
    const other = await signUp(h)
    await createEntry(h, other, { text: 'not mine', mood: 5, category: 'other' })
    stored = await storedEntries(h.db, ada.id)
    assert.equal(stored.length, 2500)
  })

  test('when NDJSON is asked for, then a header line comes first and every entry follows with every field, in id order', async () => {
    const before = Date.now()
    const res = await exportOf(h, ada, '')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['content-type'], 'application/x-ndjson; charset=utf-8')
    assert.match(res.headers['content-disposition'] as string, /^attachment; filename=moodlog-\d{4}-\d\d-\d\d\.ndjson$/)
    assert.equal(res.headers['cache-control'], 'no-store')
    const lines = res.body.split('\n')
    assert.equal(lines.pop(), '', 'the file ends with a newline')
    const header = JSON.parse(lines.shift()!)
    assert.deepEqual(Object.keys(header), ['format', 'version', 'exportedAt'])
    assert.equal(header.format, 'moodlog')
    assert.equal(header.version, 1)
    assert.ok(Date.parse(header.exportedAt) >= before - 1000 && Date.parse(header.exportedAt) <= Date.now())
    const entries: any[] = lines.map((line) => JSON.parse(line))
    assert.deepEqual(Object.keys(entries[0]), ['id', 'text', 'mood', 'category', 'occurredAt', 'createdAt', 'updatedAt', 'version'])
    assert.match(entries[0].occurredAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    assert.deepEqual(entries, stored)
  })

  test('when CSV is asked for, then an RFC 4180 reader gets the header row and every field back exactly', async () => {
    const res = await exportOf(h, ada, '?format=csv')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8; header=present')
    assert.match(res.headers['content-disposition'] as string, /filename=moodlog-\d{4}-\d\d-\d\d\.csv$/)
    assert.match(res.body, /^"id","occurredAt","mood","category","text","createdAt","updatedAt","version"\r\n/)
    const rows: Array<Record<string, string>> = parse(res.body, { columns: true })
    assert.deepEqual(
      rows,
      stored.map((e) => ({
        id: String(e.id),
        occurredAt: e.occurredAt,
        mood: String(e.mood),
        category: e.category,
        text: e.text,
        createdAt: e.createdAt,
        updatedAt: e.updatedAt,
        version: String(e.version),
      })),
    )
  })

  test('when Markdown is asked for with a zone, then there is one section per local day, oldest first, with local times', async () => {
    const user = await signUp(h)
    // 22:30 UTC is already the next day in Berlin; 23:59 and 00:01 local fall on different days.
    for (const [occurredAt, text] of [
      ['2024-05-02T08:00:00Z', 'second day, morning'],
      ['2024-05-01T22:30:00Z', 'second day, just after midnight in Berlin'],
      ['2024-05-01T10:00:00Z', 'first day\n# not a heading\n===\nlast line'],
      ['2024-05-02T21:59:00Z', 'second day, 23:59 local'],
      ['2024-05-02T22:01:00Z', 'third day, 00:01 local'],
    ]) {
      await createEntry(h, user, { text: text!, mood: 7, category: 'work', occurredAt })
    }
    const res = await exportOf(h, user, '?format=markdown&tz=europe/berlin')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['content-type'], 'text/markdown; charset=utf-8')
    assert.match(res.headers['content-disposition'] as string, /filename=moodlog-\d{4}-\d\d-\d\d\.md$/)
    const body = res.body.replace(/^Exported .*$/m, 'Exported <time>; days and times in Europe/Berlin.')
    assert.equal(
      body,
      [
        '# moodlog journal',
        '',
        'Exported <time>; days and times in Europe/Berlin.',
        '',
        '## 2024-05-01, Wednesday',
        '',
        '### 12:00 · mood 7/10 · work',
        '',
        '> first day\n> \\# not a heading\n> \\===\n> last line',
        '',
        '## 2024-05-02, Thursday',
        '',
        '### 00:30 · mood 7/10 · work',
        '',
        '> second day, just after midnight in Berlin',
        '',
        '### 10:00 · mood 7/10 · work',
        '',
        '> second day, morning',
        '',
        '### 23:59 · mood 7/10 · work',
        '',
        '> second day, 23:59 local',
        '',
        '## 2024-05-03, Friday',
        '',
        '### 00:01 · mood 7/10 · work',
        '',
        '> third day, 00:01 local',
        '',
        '',
      ].join('\n'),
    )
  })

  test('when texts and categories hold Markdown of their own, then the export keeps one ## per local day and one ### per entry, each text quoted', async () => {
    const user = await signUp(h)
    const hostile = [
      { text: 'a fence\n```\nthat never closes', category: 'work' },
      { text: '<!-- an HTML block\nthat never ends', category: 'work' },
      { text: 'a lone CR\r## 2099-01-01, Friday\rstill the entry', category: 'work' },
      { text: 'plain', category: 'home\n## 2099-01-02, Saturday' },
      { text: 'plain\n\nwith a blank line', category: 'a `b` *c* [d](e) <f> #g' },
    ]
    for (const [i, entry] of hostile.entries()) {
      await createEntry(h, user, { ...entry, mood: 5, occurredAt: `2024-05-0${1 + (i % 2)}T10:0${i}:00Z` })
    }
    await createEntry(h, user, { text: 'the last entry', mood: 5, category: 'work', occurredAt: '2024-05-03T10:00:00Z' })
    const res = await exportOf(h, user, '?format=markdown')
    assert.equal(res.statusCode, 200)
    const lines = res.body.split(/\r\n|\r|\n/)
    assert.deepEqual(
      lines.filter((l) => l.startsWith('## ')),
      ['## 2024-05-01, Wednesday', '## 2024-05-02, Thursday', '## 2024-05-03, Friday'],
    )
    const entryHeadings = lines.filter((l) => l.startsWith('### '))
    assert.equal(entryHeadings.length, 6)
    assert.ok(entryHeadings.includes('### 10:03 · mood 5/10 · home \\#\\# 2099-01-02, Saturday'), entryHeadings.join('\n'))
    assert.ok(entryHeadings.includes('### 10:04 · mood 5/10 · a \\`b\\` \\*c\\* \\[d\\](e) \\<f\\> \\#g'), entryHeadings.join('\n'))
    // Past the title, every line is a heading, blank, or inside an entry's quote: no fence or HTML block can leak out.
    const outside = lines.slice(4).filter((l) => l !== '' && !l.startsWith('## ') && !l.startsWith('### ') && !l.startsWith('>'))
    assert.deepEqual(outside, [])
    assert.ok(lines.includes('> the last entry'))
  })

  test('when a long journal is exported as Markdown, then every entry appears once and each day heads one section', async () => {
    const res = await exportOf(h, ada, '?format=markdown')
    assert.equal(res.statusCode, 200)
    const headings = res.body.match(/^## .*$/gm)!
    assert.equal(new Set(headings).size, headings.length, 'no day is split into two sections across pages')
    const days = new Set(stored.map((e) => (e.occurredAt as string).slice(0, 10)))
    assert.equal(headings.length, days.size)
    assert.equal(res.body.match(/^### \d\d:\d\d · mood \d+\/10 · /gm)!.length, 2500)
  })

  test('when the journal is empty, then NDJSON is the header line alone and CSV the header row alone', async () => {
    const empty = await signUp(h)
    const ndjson = await exportOf(h, empty, '?format=ndjson')
    assert.equal(ndjson.body.trimEnd().split('\n').length, 1)
    assert.equal(JSON.parse(ndjson.body).format, 'moodlog')
    const csv = await exportOf(h, empty, '?format=csv')
    assert.equal(csv.body, '"id","occurredAt","mood","category","text","createdAt","updatedAt","version"\r\n')
  })

  test('when the parameters are wrong or the token is missing, then the answer is a 4xx problem', async () => {
    for (const [query, field] of [
      ['?format=xml', 'query.format'],
      ['?tz=Mars/Olympus', 'query.tz'],
      ['?format=csv&extra=1', 'query.extra'],
    ] as const) {
      const res = await exportOf(h, ada, query)
      assert.equal(res.statusCode, 400, query)
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/)
      assert.ok(
        res.json().errors.some((e: { field: string }) => e.field === field),
        res.body,
      )
    }
    const anonymous = await h.request({ method: 'GET', url: '/export' })
    assert.equal(anonymous.statusCode, 401)
  })
})

describeEachBackend('GET /export over HTTP', (h) => {
  test('when the client reads slowly past the request timeout, then the stream waits for it and arrives whole', async () => {
    const user = await signUp(h)
    await seedJournal(h.db, user.id)
    // Its own app with a 1 s request timeout, on the same database.
    const app = await buildApp(testConfig({ REQUEST_TIMEOUT_SECONDS: '1' }), { db: h.db, logger: false })
    try {
      await app.listen({ port: 0, host: '127.0.0.1' })
      const { port } = app.server.address() as AddressInfo
      const request = http.get({ port, host: '127.0.0.1', path: '/export', headers: user.auth })
      const [response] = (await once(request, 'response')) as [http.IncomingMessage]
      assert.equal(response.statusCode, 200)
      response.pause()
      // Longer than the timeout (its timer was set first, so it fires first); meanwhile the
      // server stops at the socket's buffer: about 10 MB of text cannot all be in flight.
      await sleep(1500)
      const chunks: Buffer[] = []
      for await (const chunk of response) chunks.push(chunk as Buffer)
      const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n')
      assert.equal(lines.length, 2501)
      assert.equal(JSON.parse(lines.at(-1)!).id, (await storedEntries(h.db, user.id)).at(-1)!.id)
    } finally {
      await app.close()
    }
  })
})
