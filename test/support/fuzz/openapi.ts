import fc from 'fast-check'
import {
  HOSTILE_CONTENT_TYPES,
  HOSTILE_DATES,
  HOSTILE_STRINGS,
  INT8_OVERFLOW,
  hostileNumbers,
  hostileNumberStrings,
  hostileRawBodies,
} from './hostile.js'

/**
 * Placeholders for values that only exist once the fixtures do (and change when they are re-created):
 * generated as these strings, replaced by `resolve` just before the request is sent.
 */
export const FIXTURE = {
  ownEntryId: '\u0001own-entry-id',
  otherEntryId: '\u0001other-entry-id',
  ownEmail: '\u0001own-email',
  ownPassword: '\u0001own-password',
  ownRefreshToken: '\u0001own-refresh-token',
  ownEtag: '\u0001own-etag',
  ownWebhookId: '\u0001own-webhook-id',
  otherWebhookId: '\u0001other-webhook-id',
  ownDeliveryId: '\u0001own-delivery-id',
  otherDeliveryId: '\u0001other-delivery-id',
} as const

/** Placeholders that stand for another user's ids: a request carrying one in its path must find nothing. */
export const OTHER_USERS_IDS: ReadonlySet<string> = new Set([FIXTURE.otherEntryId, FIXTURE.otherWebhookId, FIXTURE.otherDeliveryId])

export type FixtureValues = Record<keyof typeof FIXTURE, string>

export interface Operation {
  method: string
  path: string
  operationId: string
  parameters: any[]
  requestBody?: any
  responses: Record<string, any>
  secured: boolean
}

export interface FuzzRequest {
  method: string
  url: string
  headers: Record<string, string>
  payload?: string
}

export function operationsOf(document: any): Operation[] {
  const operations: Operation[] = []
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue
      operations.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId ?? `${method} ${path}`,
        parameters: [...(item.parameters ?? []), ...(op.parameters ?? [])],
        requestBody: op.requestBody,
        responses: op.responses ?? {},
        secured: Array.isArray(op.security) ? op.security.length > 0 : Array.isArray(document.security) && document.security.length > 0,
      })
    }
  }
  return operations
}

function deref(document: any, schema: any): any {
  let s = schema
  for (let guard = 0; s && typeof s.$ref === 'string' && guard < 20; guard++) {
    s = s.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((node: any, key: string) => node?.[key], document)
  }
  return s ?? {}
}

const wrongTypes = fc.constantFrom<unknown>(null, true, false, [], {}, [1, 'a'], { nested: { deeper: [null] } }, 0, -1, 'text')

/** How often a leaf value is hostile rather than valid: rare enough that most runs get past validation to the handler and the database. */
const HOSTILE_WEIGHT = 1
const VALID_WEIGHT = 5

const mix = <T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ weight: VALID_WEIGHT, arbitrary: valid }, { weight: HOSTILE_WEIGHT, arbitrary: hostile })

/** A string for a string schema: valid for it (bounds, enum, format, the fixtures' own values), or at and past its bounds, or hostile. */
function stringArbitrary(schema: any, name: string): fc.Arbitrary<unknown> {
  const min = schema.minLength ?? 0
  const max = schema.maxLength
  const valid: fc.Arbitrary<string>[] = []
  if (Array.isArray(schema.enum)) valid.push(fc.constantFrom(...schema.enum.map(String)))
  else if (schema.format === 'date-time') {
    const date = fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
    valid.push(date.map((d) => d.toISOString()))
  } else if (schema.format === 'email' || /email/i.test(name)) valid.push(fc.constant(FIXTURE.ownEmail), fc.emailAddress())
  else if (/password/i.test(name)) valid.push(fc.constant(FIXTURE.ownPassword), fc.string({ minLength: 12, maxLength: 40 }))
  else if (/refresh/i.test(name)) valid.push(fc.constant(FIXTURE.ownRefreshToken))
  else if (/timezone|^tz$/i.test(name))
    valid.push(fc.constantFrom('UTC', 'Europe/Berlin', 'America/St_Johns', 'Etc/GMT+12', 'Pacific/Kiritimati'))
  else if (name === 'cursor') valid.push(fc.tuple(fc.base64String(), fc.base64String()).map(([a, b]) => `${a}.${b}`.replace(/[+/=]/g, '_')))
  else if (name === 'url' || schema.format === 'uri')
    // Loopback only (literals and localhost, no DNS beyond the hosts file): the fuzz registers them when private targets are allowed.
    valid.push(fc.constantFrom('https://localhost/hook', 'http://127.0.0.1/hook', 'https://[::1]/x'))
  else {
    const lengthOk = (s: string) => s.trim().length >= min && (max === undefined || s.length <= max)
    valid.push(
      fc.string({ minLength: Math.max(min, 1), maxLength: Math.min(max ?? 40, 40), unit: 'grapheme' }).filter(lengthOk),
      // Hostile text that is still valid: SQL and tsquery syntax, emoji, bidi controls.
      fc
        .constantFrom(...HOSTILE_STRINGS)
        .filter((s) => lengthOk(s) && !s.includes('\u0000') && !/[\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))),
    )
  }
  const bounds: string[] = ['a'.repeat(min), 'a'.repeat(Math.max(0, min - 1))]
  if (max !== undefined) bounds.push('a'.repeat(max), 'a'.repeat(max + 1), ' '.repeat(max) + 'a', '\ud83d\ude42'.repeat(max))
  const hostile: fc.Arbitrary<unknown>[] = [fc.constantFrom(...bounds), fc.constantFrom(...HOSTILE_STRINGS), wrongTypes]
  if (schema.format === 'date-time') hostile.push(fc.constantFrom(...HOSTILE_DATES), fc.constantFrom(...HOSTILE_DATES))
  // Ids and cursors reach int8 columns: values just past int8, and spellings a lenient parser reads as numbers.
  if (/id$|cursor/i.test(name)) hostile.push(fc.constantFrom(...INT8_OVERFLOW))
  // The ends of the documented instant range are valid and worth sending often.
  if (schema.format === 'date-time')
    valid.push(fc.constantFrom('1900-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '1900-01-01T01:00:00+01:00'))
  return mix(fc.oneof(...valid), fc.oneof(...hostile))
}

/** Any JSON value for a schema: mostly valid for it, sometimes at or past its bounds, of the wrong type, or hostile. */
export function valueArbitrary(document: any, rawSchema: any, name = '', depth = 0): fc.Arbitrary<unknown> {
  const schema = deref(document, rawSchema)
  const alternatives = schema.anyOf ?? schema.oneOf
  if (Array.isArray(alternatives))
    return mix(fc.oneof(...alternatives.map((s: any) => valueArbitrary(document, s, name, depth + 1))), wrongTypes)
  if (Array.isArray(schema.enum) && schema.type !== 'string') return mix(fc.constantFrom(...schema.enum), wrongTypes)
  switch (schema.type) {
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : undefined)
      const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : undefined)
      const inRange = fc.integer({ min: Math.max(min ?? -1e9, -1e9), max: Math.min(max ?? 1e9, 1e9) })
      const atBounds = fc.constantFrom(...[min, max].filter((n) => n !== undefined))
      return mix(
        min === undefined && max === undefined ? inRange : fc.oneof(inRange, atBounds),
        fc.oneof(fc.constantFrom(...hostileNumbers(min, max)), fc.constantFrom(...hostileNumberStrings(min, max)), wrongTypes),
      )
    }
    case 'boolean':
      return mix(fc.boolean(), fc.oneof(fc.constantFrom('true', 'false', 0, 1, 'yes'), wrongTypes))
    case 'array':
      return mix(fc.array(valueArbitrary(document, schema.items ?? {}, name, depth + 1), { maxLength: depth > 2 ? 1 : 5 }), wrongTypes)
    case 'object':
      return depth > 3 ? wrongTypes : mix(objectArbitrary(document, schema, depth + 1), wrongTypes)
    case 'string':
      return stringArbitrary(schema, name)
    default:
      return fc.oneof(fc.jsonValue({ maxDepth: 2 }), wrongTypes)
  }
}

/** An object for an object schema: required properties nearly always, optional ones often, now and then an unknown or prototype key. */
function objectArbitrary(document: any, schema: any, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const properties: Record<string, any> = schema.properties ?? {}
  const required = new Set<string>(schema.required ?? [])
  const fields = Object.entries(properties).map(([key, propSchema]) =>
    fc
      .tuple(fc.integer({ min: 0, max: 19 }), valueArbitrary(document, propSchema, key, depth))
      .map(([roll, value]) => [key, (required.has(key) ? roll < 19 : roll < 12) ? value : undefined] as const),
  )
  const extra = fc.oneof(
    { weight: 9, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<[string, unknown]>(
        ['userId', 1],
        ['id', 1],
        ['__proto__', { admin: true }],
        ['constructor', { prototype: {} }],
        ['unknownField', 'x'],
        ['', ''],
      ),
    },
  )
  return fc.tuple(fc.tuple(...fields), extra).map(([pairs, added]) => {
    const out: Record<string, unknown> = {}
    for (const [key, value] of pairs) if (value !== undefined) out[key] = value
    // defineProperty: a `__proto__` key must be an own property that JSON.stringify writes out.
    if (added) Object.defineProperty(out, added[0], { value: added[1], enumerable: true, writable: true, configurable: true })
    return out
  })
}

/** The user's own and another user's id for a path parameter: entries, webhooks or deliveries by where it sits. */
function idFixtures(path: string, name: string): [string, string] {
  if (name === 'deliveryId') return [FIXTURE.ownDeliveryId, FIXTURE.otherDeliveryId]
  if (path.startsWith('/webhooks/')) return [FIXTURE.ownWebhookId, FIXTURE.otherWebhookId]
  return [FIXTURE.ownEntryId, FIXTURE.otherEntryId]
}

/** Text for a path or query parameter: the schema's values as text, and raw percent-encoded bytes no decoder likes. */
function parameterText(document: any, parameter: any, path = ''): fc.Arbitrary<string | undefined> {
  const schema = deref(document, parameter.schema ?? {})
  const asText = valueArbitrary(document, schema, parameter.name).map((v) =>
    typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : Object.is(v, -0) ? '-0' : String(v),
  )
  const choices: { weight: number; arbitrary: fc.Arbitrary<string | undefined> }[] = [{ weight: 2, arbitrary: asText }]
  if (parameter.in === 'path' && /id$/i.test(parameter.name)) {
    const [own, others] = idFixtures(path, parameter.name)
    choices.push(
      { weight: 4, arbitrary: fc.constant(own) },
      { weight: 3, arbitrary: fc.constant(others) },
      // Another user's id of the wrong kind (an entry's id as a webhook's): found nowhere either.
      { weight: 1, arbitrary: fc.constantFrom(FIXTURE.otherEntryId, FIXTURE.otherWebhookId, FIXTURE.otherDeliveryId) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('0', '-1', '1.5', '999999999999999', '1000000000000000', '1e3', ' 1', '01', ...INT8_OVERFLOW),
      },
    )
  }
  if (parameter.name === 'if-match' || parameter.name === 'if-none-match') {
    choices.push(
      { weight: 3, arbitrary: fc.constant(FIXTURE.ownEtag) },
      { weight: 1, arbitrary: fc.constantFrom('*', '"1"', 'W/"1"', '"', '"a", "b"') },
    )
  }
  if (parameter.in !== 'path' && !parameter.required)
    choices.push({ weight: choices.reduce((n, c) => n + c.weight, 0), arbitrary: fc.constant(undefined) })
  // An empty path segment, or a dot segment (`/webhooks/./test` is `/webhooks/test`), is another route's URL, not a value of this parameter.
  return parameter.in === 'path' ? fc.oneof(...choices).filter((v) => v !== '' && v !== '.' && v !== '..') : fc.oneof(...choices)
}

/** Percent-encoding that also writes lone surrogates (as their WTF-8 bytes) and passes raw `%` sequences through. */
export function encodeComponent(value: string, raw: boolean): string {
  if (raw) return value
  let out = ''
  for (const ch of value) {
    const code = ch.codePointAt(0)!
    if (code >= 0xd800 && code <= 0xdfff)
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('')
    else out += encodeURIComponent(ch)
  }
  return out
}

const rawEncodings = fc.constantFrom('%', '%zz', '%00', '%C0%AF', '%ED%A0%80', '%FF', '%2e%2e%2f', '%E2%82', '%25')

export interface RequestPlan {
  path: Record<string, { value: string; raw: boolean }>
  /** Name, value (null: the name alone, no `=`), whether the value is sent as it stands (not percent-encoded). */
  query: [string, string | null, boolean][]
  headers: Record<string, string>
  contentType: string | undefined
  body: { kind: 'json'; value: unknown } | { kind: 'raw'; text: string } | { kind: 'none' }
}

/**
 * Now and then a query parameter of the operation sent twice or more (`?limit=1&limit=2`, `?q=a&q=b`),
 * empty (`?limit=`) or as a bare name (`?limit`): parsers turn these into arrays, '' or true.
 */
function repeatedQuery(document: any, queryParams: any[]): fc.Arbitrary<[string, string | null, boolean][]> {
  if (queryParams.length === 0) return fc.constant<[string, string | null, boolean][]>([])
  const again = fc.oneof(
    ...queryParams.map((p) =>
      fc.tuple<[string, string | null, boolean]>(
        fc.constant<string>(p.name),
        fc.oneof(
          parameterText(document, p).map((v) => v ?? ''),
          fc.constantFrom<string | null>('', null, 'a', 'b', '1', '2'),
        ),
        fc.constant(false),
      ),
    ),
  )
  const none: [string, string | null, boolean][] = []
  return fc.oneof({ weight: 5, arbitrary: fc.constant(none) }, { weight: 1, arbitrary: fc.array(again, { minLength: 1, maxLength: 3 }) })
}

/** Everything a request to one operation can carry, each part drawn from its schema mixed with hostile values. */
export function requestArbitrary(document: any, operation: Operation): fc.Arbitrary<RequestPlan> {
  const pathParams = operation.parameters.filter((p) => p.in === 'path')
  const queryParams = operation.parameters.filter((p) => p.in === 'query')
  const headerParams = operation.parameters.filter((p) => p.in === 'header' || p.in === 'cookie')

  const path = fc.tuple(
    ...pathParams.map((p) =>
      fc.oneof(
        { weight: 12, arbitrary: parameterText(document, p, operation.path).map((v) => ({ value: v ?? '', raw: false })) },
        { weight: 1, arbitrary: rawEncodings.map((v) => ({ value: v, raw: true })) },
      ),
    ),
  )
  const query = fc.tuple(
    fc.tuple(...queryParams.map((p) => parameterText(document, p))),
    fc.oneof(
      { weight: 9, arbitrary: fc.constant(null) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<[string, string | null, boolean]>(
          ['unknown', 'x', false],
          ['limit', '1', false],
          ['__proto__', 'x', false],
          ['q', '%ED%A0%80', true],
          ['from', '%00', true],
          ['limit', null, false],
          ['q', null, false],
          ['', '', false],
          ['', null, false],
        ),
      },
    ),
    repeatedQuery(document, queryParams),
  )
  const headers = fc.tuple(...headerParams.map((p) => parameterText(document, p)))

  const bodySchema = operation.requestBody?.content?.['application/json']?.schema
  const hasBody = operation.requestBody !== undefined
  const body: fc.Arbitrary<RequestPlan['body']> = hasBody
    ? fc.oneof(
        { weight: 16, arbitrary: valueArbitrary(document, bodySchema ?? {}, '', 0).map((value) => ({ kind: 'json' as const, value })) },
        { weight: 2, arbitrary: fc.constantFrom(...hostileRawBodies()).map((text) => ({ kind: 'raw' as const, text })) },
        { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
      )
    : fc.oneof(
        { weight: 12, arbitrary: fc.constant({ kind: 'none' as const }) },
        { weight: 1, arbitrary: fc.constantFrom(...hostileRawBodies()).map((text) => ({ kind: 'raw' as const, text })) },
      )
  const contentType = fc.oneof(
    { weight: 12, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_CONTENT_TYPES) },
  )

  const fileTypes = Object.keys(operation.requestBody?.content ?? {}).filter((t) => t !== 'application/json')
  const fileBody = fileTypes.length > 0 ? fileArbitrary(document, fileTypes) : undefined
  const file = fileBody ? fc.oneof({ weight: 3, arbitrary: fileBody }, { weight: 1, arbitrary: fc.constant(null) }) : fc.constant(null)

  return fc
    .record({ path, query, headers, body, contentType, file })
    .map(({ path: pathValues, query: [queryValues, extraQuery, repeated], headers: headerValues, body: b, contentType: ct, file: f }) => {
      const plan: RequestPlan = f
        ? { path: {}, query: [], headers: {}, contentType: f.contentType, body: { kind: 'raw', text: f.text } }
        : { path: {}, query: [], headers: {}, contentType: ct, body: b }
      pathParams.forEach((p, i) => (plan.path[p.name] = pathValues[i]!))
      queryParams.forEach((p, i) => {
        if (queryValues[i] !== undefined) plan.query.push([p.name, queryValues[i], false])
      })
      if (extraQuery) plan.query.push(extraQuery)
      plan.query.push(...repeated)
      headerParams.forEach((p, i) => {
        const v = headerValues[i]
        if (v === undefined) return
        if (p.in === 'cookie') plan.headers.cookie = `${p.name}=${v}`
        else plan.headers[p.name] = v
      })
      return plan
    })
}

const ENTRY_ROW = {
  type: 'object',
  properties: {
    text: { type: 'string', minLength: 1, maxLength: 10000 },
    mood: { type: 'integer', minimum: 1, maximum: 10 },
    category: { type: 'string', minLength: 1, maxLength: 200 },
    occurredAt: { type: 'string', format: 'date-time' },
  },
  required: ['text', 'mood', 'category', 'occurredAt'],
}

const csvCell = (v: unknown) => {
  const text = typeof v === 'string' ? v : (JSON.stringify(v) ?? '')
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** File-shaped bodies (NDJSON, CSV, Daylio CSV, jrnl JSON) whose rows are drawn like entry bodies, with broken rows among them. */
function fileArbitrary(document: any, types: string[]): fc.Arbitrary<{ contentType: string | undefined; text: string }> {
  const row = valueArbitrary(document, ENTRY_ROW, '', 1)
  const rows = fc.array(row, { minLength: 0, maxLength: 6 })
  const brokenLine = fc.constantFrom(
    '{',
    '\u0000',
    '"a","b',
    ',,,,,,,,',
    '\ufeff',
    'x'.repeat(100_000),
    '{"__proto__":{"mood":1}}',
    '[]',
    'null',
  )
  const lines = fc.array(brokenLine, { maxLength: 2 })
  const ndjson = fc.tuple(rows, lines).map(([r, extra]) => [...r.map((v) => JSON.stringify(v)), ...extra].join('\n'))
  const csv = fc
    .tuple(rows, lines)
    .map(([r, extra]) =>
      [
        'occurredAt,mood,category,text',
        ...r.map((v: any) => [v?.occurredAt, v?.mood, v?.category, v?.text].map(csvCell).join(',')),
        ...extra,
      ].join('\r\n'),
    )
  const daylio = fc
    .tuple(rows, lines)
    .map(([r, extra]) =>
      [
        'full_date,date,weekday,time,mood,activities,note_title,note',
        ...r.map((v: any) => ['2024-05-01', 'May 1', 'Wednesday', '18:30', v?.category, v?.category, '', v?.text].map(csvCell).join(',')),
        ...extra,
      ].join('\n'),
    )
  const jrnl = rows.map((r) =>
    JSON.stringify({
      tags: {},
      entries: r.map((v: any) => ({
        date: typeof v?.occurredAt === 'string' ? v.occurredAt.slice(0, 10) : v?.occurredAt,
        time: '18:30',
        title: v?.category,
        body: v?.text,
        tags: [],
        starred: false,
      })),
    }),
  )
  const contentType = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom<string | undefined>(...types, 'application/json') },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_CONTENT_TYPES) },
  )
  return fc.record({ contentType, text: fc.oneof(ndjson, csv, daylio, jrnl) })
}

/** Replaces the fixture placeholders anywhere in a value. */
export function resolve<T>(value: T, fixtures: FixtureValues): T {
  if (typeof value === 'string') {
    for (const [key, placeholder] of Object.entries(FIXTURE)) {
      if (value === placeholder) return fixtures[key as keyof typeof FIXTURE] as T
    }
    return value
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, fixtures)) as T
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, {
        value: resolve((value as any)[key], fixtures),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return out as T
  }
  return value
}

/** Header values must be latin-1 text without control characters, or the client refuses to send them. */
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e\x80-\xff]/g, '?').slice(0, 8000)
}

export function buildRequest(
  operation: Operation,
  plan: RequestPlan,
  fixtures: FixtureValues,
  authorization: string | undefined,
): FuzzRequest {
  let url = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const p = plan.path[name]
    return p ? encodeComponent(resolve(p.value, fixtures), p.raw) : ''
  })
  if (plan.query.length > 0)
    url +=
      '?' +
      plan.query
        .map(([k, v, raw]) =>
          v === null ? encodeComponent(k, false) : `${encodeComponent(k, false)}=${encodeComponent(resolve(v, fixtures), raw)}`,
        )
        .join('&')
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(plan.headers)) headers[k] = headerSafe(resolve(v, fixtures))
  if (authorization) headers.authorization = authorization
  let payload: string | undefined
  if (plan.body.kind === 'json') payload = JSON.stringify(resolve(plan.body.value, fixtures))
  else if (plan.body.kind === 'raw') payload = plan.body.text
  if (payload !== undefined && plan.contentType !== undefined) headers['content-type'] = plan.contentType
  return { method: operation.method, url, headers, payload }
}

/** Statuses the operation documents: its explicit codes; with a `default` response, any 4xx too. */
export function documentedStatus(operation: Operation, status: number): boolean {
  if (Object.hasOwn(operation.responses, String(status))) return true
  if (Object.hasOwn(operation.responses, `${Math.floor(status / 100)}XX`)) return true
  return status >= 400 && status < 500 && Object.hasOwn(operation.responses, 'default')
}

/** Whether a path parameter of the plan stands for another user's id (so the operation must find nothing). */
export function carriesOtherUsersId(plan: RequestPlan, ids: ReadonlySet<string> = OTHER_USERS_IDS): boolean {
  return Object.values(plan.path).some((p) => !p.raw && ids.has(p.value))
}
