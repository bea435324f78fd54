import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachBackend, type Harness } from '../../test/support/harness.js'
import { storedEntries } from '../../test/support/journal.js'
import { signUp, type SignedIn } from '../../test/support/users.js'

function importFile(h: Harness, user: SignedIn, query: string, contentType: string, payload: string | Buffer) {
  return h.request({ method: 'POST', url: `/import${query}`, headers: { ...user.auth, 'content-type': contentType }, payload })
}

const crlf = (...lines: string[]) => lines.join('\r\n') + '\r\n'

/** A current Daylio export: newest first, 12- and 24-hour times, notes with a little HTML. */
const DAYLIO = crlf(
  'full_date,date,weekday,time,mood,activities,note_title,note',
  '2024-03-31,March 31,Sunday,11:54 pm,rad,"family | cooking | movies / tv","Easter","Lunch with everyone.<br>Long walk."',
  '2024-03-31,March 31,Sunday,13:48,Good,"","",""',
  '2024-03-30,March 30,Saturday,12:05 am,meh,"work","","Late shift, ""tired"""',
  '2024-01-15,January 15,Monday,7:30 AM,awful,"sick","",""',
)

describeEachBackend('POST /import?format=daylio', (h) => {
  test('when a wall-clock time at the ends of the range would leave it in tz, then the row is invalid, never a 500', async () => {
    const user = await signUp(h)
    const edges = crlf(
      'full_date,date,weekday,time,mood,activities,note_title,note',
      '9999-12-31,December 31,Friday,11:00 pm,good,"","","last night"',
      '1900-01-01,January 1,Monday,1:00 am,good,"","","first morning"',
      '9999-12-30,December 30,Thursday,11:00 pm,good,"","","inside"',
    )
    const res = await importFile(h, user, '?format=daylio&tz=Pacific/Honolulu&skipInvalid=true', 'text/csv', edges)
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(
      res.json().invalid.map((i: any) => [i.line, i.field]),
      [
        [2, 'full_date'],
        [3, 'full_date'],
      ],
    )
    assert.deepEqual(
      (await storedEntries(h.db, user.id)).map((e) => [e.occurredAt, e.text]),
      [['9999-12-31T09:00:00.000000Z', 'inside']],
    )
    const list = await h.request({ method: 'GET', url: '/entries', headers: user.auth })
    assert.equal(list.statusCode, 200)
  })

  test('when a Daylio export is imported, then times are read in tz, moods mapped, the first activity is the category and all activities stay in the text', async () => {
    const user = await signUp(h)
    const res = await importFile(h, user, '?format=daylio&tz=Europe/Berlin', 'text/csv', DAYLIO)
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(res.json(), { created: 4, skipped: 0, invalid: [], invalidCount: 0 })
    const entries = (await storedEntries(h.db, user.id)).map((e) => [e.occurredAt, e.mood, e.category, e.text])
    assert.deepEqual(entries, [
      // Berlin switched to summer time (+02:00) at 02:00 on 2024-03-31.
      [
        '2024-03-31T21:54:00.000000Z',
        10,
        'family',
        'Easter\n\nLunch with everyone.\nLong walk.\n\nActivities: family, cooking, movies / tv',
      ],
      ['2024-03-31T11:48:00.000000Z', 8, 'Daylio', 'Good'],
      ['2024-03-29T23:05:00.000000Z', 5, 'work', 'Late shift, "tired"\n\nActivities: work'],
      ['2024-01-15T06:30:00.000000Z', 1, 'sick', 'Activities: sick'],
    ])
    const again = await importFile(h, user, '?format=daylio&tz=Europe/Berlin', 'text/csv', DAYLIO)
    assert.deepEqual(again.json(), { created: 0, skipped: 4, invalid: [], invalidCount: 0 })
  })

  test('when the older layout (year and "18 May") is imported, then it reads the same way', async () => {
    const user = await signUp(h)
    const older = crlf(
      'year,date,weekday,time,mood,activities,note',
      '2018,18 May,Friday,11:54 pm,good,"clean | cook | music","Went to a party"',
      '2018,May 17,Thursday,10:21 pm,bad,"cook",""',
    )
    const res = await importFile(h, user, '?format=daylio&tz=America/New_York', 'text/csv', older)
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(
      (await storedEntries(h.db, user.id)).map((e) => [e.occurredAt, e.mood, e.category]),
      [
        ['2018-05-19T03:54:00.000000Z', 8, 'clean'],
        ['2018-05-18T02:21:00.000000Z', 3, 'cook'],
      ],
    )
  })

  test('when a file has labels of its own, then without moodMap the answer is 400 naming them all, and with it they import', async () => {
    const user = await signUp(h)
    const custom = crlf(
      'full_date,date,weekday,time,mood,activities,note_title,note,scales',
      '2024-05-01,May 1,Wednesday,18:30,super,"","","",""',
      '2024-05-02,May 2,Thursday,18:30,fine,"","","",""',
      '2024-05-03,May 3,Friday,18:30,rad,"","","",""',
    )
    const refused = await importFile(h, user, '?format=daylio&tz=UTC', 'text/csv', custom)
    assert.equal(refused.statusCode, 400, refused.body)
    assert.match(refused.json().detail, /Unknown Daylio mood labels: fine, super\./)
    assert.deepEqual(await storedEntries(h.db, user.id), [])

    const moodMap = encodeURIComponent(JSON.stringify({ Super: 9, fine: 6, rad: 7 }))
    const mapped = await importFile(h, user, `?format=daylio&tz=UTC&moodMap=${moodMap}`, 'text/csv', custom)
    assert.equal(mapped.statusCode, 200, mapped.body)
    assert.deepEqual(
      (await storedEntries(h.db, user.id)).map((e) => e.mood),
      [9, 6, 7],
      'moodMap also overrides a default label',
    )
  })

  test('when a file has thousands of unknown labels, then the 400 names the first 100 and counts the others', async () => {
    const user = await signUp(h)
    const labels = Array.from({ length: 5000 }, (_, i) => `label-${String(i).padStart(4, '0')}`)
    const file = crlf(
      'full_date,date,weekday,time,mood,activities,note_title,note',
      ...labels.map((label) => `2024-05-01,May 1,Wednesday,18:30,${label},"","",""`),
    )
    const refused = await importFile(h, user, '?format=daylio&tz=UTC', 'text/csv', file)
    assert.equal(refused.statusCode, 400)
    assert.ok(refused.body.length < 20_000, `${refused.body.length} bytes of answer`)
    const { detail, errors } = refused.json()
    assert.match(detail, /^Unknown Daylio mood labels: label-0000, label-0001, .*, label-0099 and 4900 more\. Pass moodMap/)
    assert.equal(errors.length, 100)
    assert.deepEqual(errors[99], { field: 'query.moodMap', message: 'has no mood for the label "label-0099"' })
    assert.deepEqual(await storedEntries(h.db, user.id), [])
  })

  test('when tz or moodMap is missing or malformed, or a row has a bad time, then the answer says which', async () => {
    const user = await signUp(h)
    const noTz = await importFile(h, user, '?format=daylio', 'text/csv', DAYLIO)
    assert.equal(noTz.statusCode, 400)
    assert.deepEqual(noTz.json().errors, [{ field: 'query.tz', message: 'is required for format=daylio' }])
    for (const moodMap of ['{"x":11}', '[1]', 'not json', '{"x":2.5}']) {
      const bad = await importFile(h, user, `?format=daylio&tz=UTC&moodMap=${encodeURIComponent(moodMap)}`, 'text/csv', DAYLIO)
      assert.equal(bad.statusCode, 400, moodMap)
      assert.equal(bad.json().errors[0].field, 'query.moodMap')
    }
    const badTime = crlf('full_date,date,weekday,time,mood,activities,note_title,note', '2024-02-30,x,x,25:00,good,"","",""')
    const res = await importFile(h, user, '?format=daylio&tz=UTC', 'text/csv', badTime)
    assert.equal(res.statusCode, 422)
    assert.deepEqual(
      res.json().invalid.map((p: { line: number; field: string }) => [p.line, p.field]),
      [[2, 'time']],
    )
  })
})

const JRNL = JSON.stringify({
  tags: { '@work': 1 },
  entries: [
    {
      title: 'Shipped the release.',
      body: 'Long day at @work but worth it.\n',
      date: '2024-05-01',
      time: '18:30',
      tags: ['@work', '@win'],
      starred: true,
    },
    { title: 'Quiet evening.', body: '', date: '2024-05-02', time: '21:05', tags: [], starred: false },
  ],
})

describeEachBackend('POST /import?format=jrnl', (h) => {
  test('when a jrnl export is imported, then title and body become the text, the first tag the category, defaultMood the mood, and a star a last line', async () => {
    const user = await signUp(h)
    const res = await importFile(h, user, '?defaultMood=6&tz=Europe/Berlin', 'application/json', JRNL)
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(res.json(), { created: 2, skipped: 0, invalid: [], invalidCount: 0 })
    assert.deepEqual(
      (await storedEntries(h.db, user.id)).map((e) => [e.occurredAt, e.mood, e.category, e.text]),
      [
        ['2024-05-01T16:30:00.000000Z', 6, 'work', 'Shipped the release.\nLong day at @work but worth it.\n\nStarred'],
        ['2024-05-02T19:05:00.000000Z', 6, 'jrnl', 'Quiet evening.'],
      ],
    )
    assert.equal((await importFile(h, user, '?defaultMood=6&tz=Europe/Berlin', 'application/json', JRNL)).json().skipped, 2)
    // The star can be searched for, like any word of the text.
    const starred = await h.request({ method: 'GET', url: '/entries?q=starred', headers: user.auth })
    assert.deepEqual(
      starred.json().items.map((e: { category: string }) => e.category),
      ['work'],
    )
  })

  test('when defaultMood is missing, the JSON is broken or an entry is malformed, then the answer says which', async () => {
    const user = await signUp(h)
    const noMood = await importFile(h, user, '?format=jrnl', 'application/json', JRNL)
    assert.equal(noMood.statusCode, 400)
    assert.deepEqual(noMood.json().errors, [{ field: 'query.defaultMood', message: 'is required for format=jrnl' }])
    const broken = await importFile(h, user, '?defaultMood=5', 'application/json', '{"entries": [')
    assert.equal(broken.statusCode, 400)
    assert.match(broken.json().detail, /not valid JSON/)
    const latin1 = Buffer.concat([Buffer.from('{"entries": [{"title": "caf'), Buffer.from([0xe9]), Buffer.from('", "body": ""}]}')])
    const notUtf8 = await importFile(h, user, '?defaultMood=5', 'application/json', latin1)
    assert.equal(notUtf8.statusCode, 400)
    assert.match(notUtf8.json().detail, /not UTF-8/)
    const notJrnl = await importFile(h, user, '?defaultMood=5', 'application/json', '{"items": []}')
    assert.equal(notJrnl.statusCode, 400)
    const bad = JSON.stringify({
      entries: [
        { title: 'ok', body: '', date: '2024-05-01', time: '10:00' },
        { title: 'x', date: '01/05/2024', time: '10:00' },
        { title: 'y', date: '2024-05-01', time: '10:00', starred: 'yes' },
      ],
    })
    const res = await importFile(h, user, '?defaultMood=5', 'application/json', bad)
    assert.equal(res.statusCode, 422)
    assert.deepEqual(res.json().invalid, [
      { line: 2, field: 'date', message: 'must be a date like 2024-05-01' },
      { line: 3, field: 'starred', message: 'must be true or false' },
    ])
  })
})
