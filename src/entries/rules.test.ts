import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  checkCategory,
  checkEntry,
  checkEntryChange,
  checkInstant,
  checkSafeString,
  INSTANT_MAX,
  INSTANT_MIN,
  instantMillis,
} from './rules.js'

const messageOf = (checked: { errors?: Array<{ message: string }> }) => checked.errors?.[0]?.message

describe('entry rules', () => {
  test('when an instant is inside 1900..9999 in UTC, then it is accepted as given, at both ends of the range', () => {
    for (const value of [
      INSTANT_MIN,
      INSTANT_MAX,
      '1900-01-01T00:00:00Z',
      '1900-01-01T01:00:00+01:00',
      '1899-12-31T23:00:00-01:00',
      '9999-12-31T23:59:59.999Z',
      '9999-12-31T23:59:59.999-00:00',
      '9999-12-31T23:59:59.999+01:00',
      '2024-02-29T12:00:00.120000Z',
      '2024-03-10 08:30:00Z',
      '2024-03-10t08:30:00z',
      '2024-03-10T08:30:00+15:59',
    ]) {
      assert.deepEqual(checkInstant(value), { value }, value)
    }
  })

  test('when an instant is outside the range, not a real moment, or more precise than kept, then it is refused with a reason', () => {
    const outside = `must be between ${INSTANT_MIN} and ${INSTANT_MAX}`
    const invalid = 'must be an RFC 3339 date-time with an offset, e.g. 2024-05-01T18:30:00+02:00'
    const cases: Array<[unknown, string]> = [
      ['1899-12-31T23:59:59.999Z', outside],
      ['1900-01-01T00:30:00+01:00', outside],
      ['0001-01-01T00:00:00Z', outside],
      ['0049-06-01T00:00:00Z', outside], // would read back as 2049 through a JS Date
      ['9999-12-31T23:59:59-01:00', outside], // year 10000 in UTC
      ['9999-12-31T23:59:59.999-00:01', outside],
      ['2024-02-30T00:00:00Z', invalid],
      ['2023-02-29T00:00:00Z', invalid],
      ['2024-13-01T00:00:00Z', invalid],
      ['2024-01-01T24:00:00Z', invalid],
      ['1999-12-31T23:59:60Z', invalid], // a leap second would be stored as the next minute
      ['2024-01-01T00:00:00+16:00', invalid],
      ['2024-01-01T00:00:00+0530', invalid],
      ['2024-01-01T00:00:00', invalid],
      ['2024-01-01', invalid],
      ['+002024-01-01T00:00:00Z', invalid],
      [' 2024-01-01T00:00:00Z', invalid],
      [1_704_067_200_000, invalid],
      [null, invalid],
      ['2024-01-01T00:00:00.1234Z', 'must have at most 3 fraction digits (milliseconds)'],
    ]
    for (const [value, message] of cases) assert.equal(messageOf(checkInstant(value)), message, String(value))
    assert.equal(checkInstant('2024-01-01T00:00:00.123456Z', 'createdAt', { fractionDigits: 6 }).value, '2024-01-01T00:00:00.123456Z')
    assert.equal(
      messageOf(checkInstant('2024-01-01T00:00:00.1234567Z', 'createdAt', { fractionDigits: 6 })),
      'must have at most 6 fraction digits (microseconds)',
    )
    assert.equal(messageOf(checkInstant('9999-12-31T23:59:59.999001Z', 'x', { fractionDigits: 6 })), outside)
    assert.deepEqual(checkInstant('1800-01-01T00:00:00Z', 'query.from').errors, [{ field: 'query.from', message: outside }])
  })

  test('when an accepted instant is converted, then it is the same moment JavaScript reads', () => {
    for (const value of ['2024-03-10T08:30:00.250+02:00', INSTANT_MIN, INSTANT_MAX, '1900-01-01T05:30:00+05:30']) {
      assert.equal(instantMillis(value), Date.parse(value.replace(' ', 'T')), value)
    }
    assert.ok(Number.isNaN(instantMillis('yesterday')))
  })

  test('when a string holds NUL or a lone surrogate, then it is refused; paired surrogates (emoji) are fine', () => {
    assert.equal(messageOf(checkSafeString('a\u0000b', 'q')), 'must not contain NUL characters')
    for (const lone of ['\ud800', 'x\udfffy', '\udc00\ud800']) {
      assert.equal(messageOf(checkSafeString(lone, 'q')), 'must be well-formed Unicode (no lone surrogates)', JSON.stringify(lone))
    }
    assert.deepEqual(checkSafeString('🙂 𝄞', 'q'), { value: '🙂 𝄞' })
  })

  test('when a category has spaces around it, then it is trimmed and measured after trimming', () => {
    assert.deepEqual(checkCategory('  work  '), { value: 'work' })
    assert.deepEqual(checkCategory(` ${'😀'.repeat(50)} `), { value: '😀'.repeat(50) }, 'characters, not UTF-16 units')
    assert.equal(messageOf(checkCategory('   ')), 'must be 1 to 50 characters after trimming')
    assert.equal(messageOf(checkCategory('c'.repeat(51))), 'must be 1 to 50 characters after trimming')
  })

  test('when a whole entry is checked, then every problem is named by field (with a prefix), or the normalised entry comes back', () => {
    assert.deepEqual(checkEntry({ text: 'walk', mood: 7, category: ' Outdoors ', occurredAt: '2024-03-10T08:30:00Z', extra: 1 }), {
      value: { text: 'walk', mood: 7, category: 'Outdoors', occurredAt: '2024-03-10T08:30:00Z' },
    })
    assert.deepEqual(checkEntry({ text: 'x', mood: 1, category: 'c' }), { value: { text: 'x', mood: 1, category: 'c' } })
    assert.deepEqual(checkEntry({ text: '', mood: 11, occurredAt: '1800-01-01T00:00:00Z' }, { prefix: 'entries.2.' }).errors, [
      { field: 'entries.2.text', message: 'must be 1 to 10,000 characters' },
      { field: 'entries.2.mood', message: 'must be an integer from 1 to 10' },
      { field: 'entries.2.category', message: 'is required' },
      { field: 'entries.2.occurredAt', message: `must be between ${INSTANT_MIN} and ${INSTANT_MAX}` },
    ])
    assert.deepEqual(checkEntry('not an object').errors, [{ field: '(root)', message: 'must be an object' }])
    assert.deepEqual(checkEntry({ text: 'a\u0000', mood: 5.5, category: 7 }).errors, [
      { field: 'text', message: 'must not contain NUL characters' },
      { field: 'mood', message: 'must be an integer from 1 to 10' },
      { field: 'category', message: 'must be a string' },
    ])
    assert.equal(checkEntry({ text: 'x'.repeat(10_000), mood: 10, category: 'c' }).errors, undefined)
    assert.deepEqual(checkEntryChange({ category: ' home ' }), { value: { category: 'home' } })
    assert.deepEqual(checkEntryChange({ text: '\ud83d' }).errors, [
      { field: 'text', message: 'must be well-formed Unicode (no lone surrogates)' },
    ])
  })
})
