/**
 * OpenAPI-driven property test: every operation of the service's own document is sent requests drawn
 * from its schemas mixed with hostile values, authenticated as user A while user B owns other entries.
 * Whatever is sent: no 5xx; every 4xx is problem+json of the documented shape; the status is one the
 * operation documents; nothing of user B ever comes back.
 *
 * Reproduce a failure with the seed it prints: FUZZ_SEED=<seed> npx tsx scripts/test.ts test/fuzz.test.ts
 * FUZZ_RUNS=<n> changes the number of runs per operation (default 100; 30 where each run hashes a password).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { before, test } from 'node:test'
import fc from 'fast-check'
import { openApiDocument } from '../scripts/api-client.js'
import { describeEachBackend, type Harness } from './support/harness.js'
import { signUp, type SignedIn } from './support/users.js'
import { createEntry } from './support/entries.js'
import {
  buildRequest,
  documentedStatus,
  operationsOf,
  requestArbitrary,
  type FixtureValues,
  type Operation,
} from './support/fuzz/openapi.js'

const document = await openApiDocument()
const operations = operationsOf(document)
const BASE_SEED = Number(process.env.FUZZ_SEED ?? 20261202)
const RUNS = Number(process.env.FUZZ_RUNS ?? 100)
const PASSWORD = 'correct horse battery staple'

/** Operations where most runs compute an argon2 hash (about 0.1 s each on a busy machine): fewer runs. */
const HASHING = new Set(['POST /register', 'POST /login', 'DELETE /me', 'PATCH /me/password'])
/** Operations whose success ends user A's session or account: A is created afresh after each such success. */
const ENDS_SESSION = new Set(['POST /logout', 'POST /logout/all', 'POST /token/refresh', 'DELETE /me', 'PATCH /me/password'])

function seedFor(operation: Operation): number {
  let hash = BASE_SEED
  for (const ch of `${operation.method} ${operation.path}`) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0
  return hash
}

function short(text: string | undefined, max = 600): string {
  if (text === undefined) return '(none)'
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text
}

interface OtherUser {
  user: SignedIn
  entryIds: Set<number>
  secrets: string[]
}

/** Walks a JSON value: every object shaped like an entry (id + text) must not be one of B's. */
function entryIdsIn(value: unknown, found: number[] = []): number[] {
  if (Array.isArray(value)) for (const v of value) entryIdsIn(v, found)
  else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>
    if (typeof record.id === 'number' && 'text' in record) found.push(record.id)
    for (const v of Object.values(record)) entryIdsIn(v, found)
  }
  return found
}

describeEachBackend('OpenAPI fuzz', (h: Harness) => {
  let a: SignedIn
  let fixtures: FixtureValues
  let other: OtherUser

  async function ownEntry(): Promise<{ id: string; etag: string }> {
    const entry = await createEntry(h, a, {
      text: `a's entry ${randomUUID()}`,
      mood: 6,
      category: 'Work',
      occurredAt: '2024-05-01T18:30:00+02:00',
    })
    const res = await h.request({ method: 'GET', url: `/entries/${entry.id}`, headers: a.auth })
    assert.equal(res.statusCode, 200, res.body)
    return { id: String(entry.id), etag: String(res.headers.etag) }
  }

  async function freshUserA(): Promise<void> {
    a = await signUp(h, PASSWORD)
    await createEntry(h, a, { text: 'first of a', mood: 3, category: 'Home', occurredAt: '1900-01-01T00:00:00Z' })
    await createEntry(h, a, { text: 'last of a', mood: 10, category: 'home', occurredAt: '9999-12-31T23:59:59.999Z' })
    const entry = await ownEntry()
    fixtures = {
      ownEntryId: entry.id,
      otherEntryId: [...other.entryIds][0]!.toString(),
      ownEmail: a.email,
      ownPassword: PASSWORD,
      ownRefreshToken: a.refreshToken,
      ownEtag: entry.etag,
    }
  }

  before(async () => {
    const b = await signUp(h, PASSWORD)
    const secrets = [b.email]
    const entryIds = new Set<number>()
    for (let i = 0; i < 3; i++) {
      const text = `b-secret-text-${randomUUID()}`
      const category = `bcat${randomUUID().slice(0, 8)}`
      secrets.push(text, category)
      // Words a search for A's hostile queries could match, if B's rows were ever in reach.
      const entry = await createEntry(h, b, { text: `${text} drop table or and not a work home`, mood: 1 + i * 4, category })
      entryIds.add(entry.id)
    }
    other = { user: b, entryIds, secrets }
    await freshUserA()
  })

  for (const operation of operations) {
    const name = `${operation.method} ${operation.path}`
    const runs = HASHING.has(name) ? Math.max(1, Math.ceil(RUNS * 0.3)) : RUNS
    const seed = seedFor(operation)

    test(`${name}: ${runs} runs, seed ${seed}`, async () => {
      let last = ''
      try {
        await fc.assert(
          fc.asyncProperty(requestArbitrary(document, operation), async (plan) => {
            const request = buildRequest(operation, plan, fixtures, a.auth.authorization)
            const res = await h.request(request)
            last = `${request.method} ${short(request.url, 300)}\nheaders ${short(JSON.stringify(request.headers), 300)}\nbody ${short(request.payload, 300)}\n-> ${res.statusCode} ${short(res.body)}`
            const contentType = String(res.headers['content-type'] ?? '')

            assert.ok(res.statusCode < 500, `a ${res.statusCode}`)
            assert.ok(documentedStatus(operation, res.statusCode), `status ${res.statusCode} is not documented for ${name}`)
            if (res.statusCode >= 400) {
              assert.match(contentType, /^application\/problem\+json/, 'a 4xx is problem+json')
              const problem = res.json()
              for (const field of ['type', 'title', 'detail', 'instance', 'requestId'])
                assert.equal(typeof problem[field], 'string', `problem.${field}`)
              assert.equal(problem.status, res.statusCode, 'problem.status is the status')
              if (problem.errors !== undefined) {
                assert.ok(Array.isArray(problem.errors), 'problem.errors is an array')
                for (const e of problem.errors)
                  assert.ok(typeof e.field === 'string' && typeof e.message === 'string', 'problem.errors items')
              }
            }

            for (const secret of other.secrets) assert.ok(!res.body.includes(secret), `the answer carries user B's ${secret}`)
            for (const header of ['location', 'content-location']) {
              const value = res.headers[header]
              if (typeof value === 'string')
                for (const id of other.entryIds) assert.ok(!value.endsWith(`/entries/${id}`), `${header} names B's entry`)
            }
            if (/json/.test(contentType) && res.body.length > 0) {
              // NDJSON (the export): one JSON value per line.
              const values = /ndjson/.test(contentType) ? res.body.split('\n').filter((line) => line.length > 0) : [res.body]
              for (const id of entryIdsIn(values.map((v) => JSON.parse(v)))) {
                assert.ok(!other.entryIds.has(id), `the answer carries user B's entry ${id}`)
              }
            }

            // Re-create what a successful run used up, so later runs still reach the same code.
            if (res.statusCode < 300 && ENDS_SESSION.has(name)) await freshUserA()
            else if (res.statusCode < 300 && operation.path === '/entries/{id}' && operation.method !== 'GET') {
              const entry = await ownEntry()
              fixtures = { ...fixtures, ownEntryId: entry.id, ownEtag: entry.etag }
            }
          }),
          { numRuns: runs, seed, endOnFailure: true },
        )
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        throw new Error(
          `${name} [${h.backend}] failed with seed ${seed} (FUZZ_SEED=${BASE_SEED}).\nLast request:\n${last}\n\n${short(message, 3000)}`,
          { cause: error },
        )
      }
    })
  }
})
