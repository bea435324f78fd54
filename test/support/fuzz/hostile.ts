/** Values that have broken services before: each is sent as it stands, in every place a value can go. */

export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t\n',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\udc00\ud800',
  'x'.repeat(100_000),
  '\u00e9'.repeat(50_000),
  "'; drop table entries; --",
  "' or '1'='1",
  '!&|<->:*',
  'a:* & !b <-> c | (',
  '((((',
  '"unterminated',
  '-',
  'or',
  '\\',
  '%00',
  '%',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '\u202e\u200b\ufeff',
  '\ud83d\ude42',
  'NaN',
  'Infinity',
  '-0',
  '1e308',
  '0x10',
  ' 1',
  'null',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
]

/** Number-like values for a bounded integer, as numbers: at and just past every bound, and the usual suspects. */
export function hostileNumbers(min: number | undefined, max: number | undefined): number[] {
  const out = [0, -0, -1, 1, 0.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 1, -(2 ** 31) - 1, 2 ** 31, 2 ** 63]
  if (min !== undefined) out.push(min, min - 1, min + 1, min - 0.5)
  if (max !== undefined) out.push(max, max + 1, max - 1, max + 0.5)
  return out
}

/** The same as text, plus spellings JSON has no number for. */
export function hostileNumberStrings(min: number | undefined, max: number | undefined): string[] {
  return [
    ...hostileNumbers(min, max).map((n) => (Object.is(n, -0) ? '-0' : String(n))),
    'NaN',
    'Infinity',
    '-Infinity',
    '1e308',
    '01',
    '1.0',
    '+1',
    '1_0',
    '',
    ' 5',
    '5 ',
    '0x5',
    ...INT8_OVERFLOW,
  ]
}

/** Just past Postgres' int8 (bigint) range, and spellings a lenient number parser reads as something else. */
export const INT8_OVERFLOW: readonly string[] = [
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '-9223372036854775809',
  '18446744073709551616',
  '1e309',
  '-1e309',
  '0x10',
  '0b1',
  '0o7',
]

/** Instants at the ends of the documented range (1900-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z), and just past them. */
export const HOSTILE_DATES: readonly string[] = [
  '1900-01-01T00:00:00Z',
  '1900-01-01T00:00:00.000Z',
  '9999-12-31T23:59:59.999Z',
  '9999-12-31T23:59:59.999+00:00',
  '1899-12-31T23:59:59.999Z',
  '1900-01-01T00:00:00+00:01',
  '1900-01-01T00:59:59+01:00',
  '9999-12-31T23:59:59.999-00:01',
  '9999-12-31T23:59:59.9999Z',
  '9999-12-31T23:59:59.999999999Z',
  '10000-01-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '2024-02-30T00:00:00Z',
  '2023-02-29T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-01-01T24:00:00Z',
  '2024-01-01T23:59:60Z',
  '2024-01-01 00:00:00z',
  '2024-01-01t00:00:00Z',
  '2024-05-01T18:30:00+15:59',
  '2024-05-01T18:30:00+16:00',
  '2024-05-01T18:30:00-15:59',
  '2024-05-01T18:30:00',
  '2024-05-01',
  '1e308',
  'now',
  // ISO 8601 expanded years (six digits and a sign): Date.parse reads them, Postgres does not write them back.
  '+010000-01-01T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '-000000-01-01T00:00:00Z',
  '+000000-01-01T00:00:00Z',
  '+002026-01-01T00:00:00Z',
  '+001900-01-01T00:00:00Z',
  '+009999-12-31T23:59:59.999Z',
  '+275760-09-13T00:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '-271821-04-20T00:00:00Z',
  '-271821-04-19T23:59:59.999Z',
  // The ends of the range written in the farthest offsets, and one millisecond past them.
  '1900-01-01T14:00:00+14:00',
  '1899-12-31T23:59:59.999-00:00',
  '1900-01-01T13:59:59.999+14:00',
  '9999-12-31T09:59:59.999-14:00',
  '9999-12-31T10:00:00-14:00',
  '10000-01-01T00:00:00.000Z',
]

/** Raw request bodies that are not what any operation expects. */
export function hostileRawBodies(): string[] {
  const deepArray = '['.repeat(10_000) + ']'.repeat(10_000)
  const deepObject = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000)
  return [
    '',
    '{',
    '{"mood": 5,',
    'null',
    'true',
    '0',
    '"text"',
    '[]',
    '[{"mood":5}]',
    deepArray,
    deepObject,
    '{"__proto__":{"admin":true,"text":"x"}}',
    '{"constructor":{"prototype":{"admin":true}}}',
    '{"text":"a","mood":5,"category":"c","__proto__":{"mood":1}}',
    '{"text":"a","text":"b","mood":5,"category":"c"}',
    '\u0000',
    '\ufeff{}',
    '{"text":"\\ud800","mood":5,"category":"c"}',
    '{"text":"a\\u0000b","mood":5,"category":"c"}',
    '{"mood":1e309}',
  ]
}

export const HOSTILE_CONTENT_TYPES: readonly (string | undefined)[] = [
  undefined,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/jsonx',
  'application/problem+json',
  'application/octet-stream',
  '',
  ';;;',
]
