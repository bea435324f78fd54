/**
 * OpenAPI-driven property test: every operation of the service's own document is sent requests drawn
 * from its schemas mixed with hostile values, authenticated as user A while user B owns other entries,
 * webhooks and deliveries. Whatever is sent: no 5xx; every 4xx is problem+json of the documented shape;
 * the status is one the operation documents; nothing of user B ever comes back, and B's ids in a path
 * find nothing (404). Then, per protected operation: bad bearer tokens (none, forged, expired, wrong
 * issuer or audience, a deleted user's) are 401 whatever else the request carries; a live user C
 * sending A's and B's ids gets nothing of theirs. All of it runs with in-process stores and, when
 * TEST_REDIS_URL is set, again with Redis (fewer runs: the code paths differ only in the stores).
 *
 * Reproduce a failure with the seed it prints: FUZZ_SEED=<seed> npx tsx scripts/test.ts test/fuzz.test.ts
 * FUZZ_RUNS=<n> changes the number of runs per operation (default 100; 30 where each run hashes a password).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { openApiDocument } from '../scripts/api-client.js'
import { describeEachBackend, type Harness, type HarnessOptions } from './support/harness.js'
import { signIn, signUp, type SignedIn } from './support/users.js'
import { createEntry } from './support/entries.js'
import {
  FIXTURE,
  buildRequest,
  carriesOtherUsersId,
  documentedStatus,
  operationsOf,
  requestArbitrary,
  type FixtureValues,
  type Operation,
  type RequestPlan,
} from './support/fuzz/openapi.js'
import { BAD_TOKENS, badAuthorization } from './support/fuzz/tokens.js'
import {
  assertNothingOf,
  assertProblem,
  collectDeliveries,
  nothingOwned,
  ownEntries,
  ownWebhook,
  type Owned,
} from './support/fuzz/world.js'

const document = await openApiDocument()
const operations = operationsOf(document)
const BASE_SEED = Number(process.env.FUZZ_SEED ?? 20261202)
const RUNS = Number(process.env.FUZZ_RUNS ?? 100)
const PASSWORD = 'correct horse battery staple'

/** Operations where most runs compute an argon2 hash (about 0.1 s each on a busy machine): fewer runs. */
const HASHING = new Set(['POST /register', 'POST /login', 'DELETE /me', 'PATCH /me/password'])
/** Operations whose success ends the caller's session or account: the user is signed in or created afresh after each such success. */
const ENDS_SESSION = new Set(['POST /logout', 'POST /logout/all', 'POST /token/refresh', 'DELETE /me', 'PATCH /me/password'])
/** Of those, the ones that leave the account as it was: signing in again (one hash) is enough, not a new user (two, and its entries). */
const ENDS_SESSION_ONLY = new Set(['POST /logout', 'POST /logout/all', 'POST /token/refresh'])
/** Statuses that answer a request before any row is looked up: the only ones besides 404 for an id that is not the caller's. */
const BEFORE_LOOKUP = new Set([400, 404, 413, 414, 415])
/** Any id placeholder: to user C, A's ids are another user's as much as B's. */
const EVERY_ID = new Set([FIXTURE.ownEntryId, FIXTURE.ownWebhookId, FIXTURE.ownDeliveryId])

/** Loopback webhook targets are accepted (the fuzz registers some); the worker stays off, so nothing is sent. */
const ENV = { WEBHOOKS: 'off', WEBHOOKS_ALLOW_HTTP: 'true', WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true' }

function seedFor(operation: Operation, salt = ''): number {
  let hash = BASE_SEED
  for (const ch of `${salt}${operation.method} ${operation.path}`) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0
  return hash
}

function short(text: string | undefined, max = 600): string {
  if (text === undefined) return '(none)'
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text
}

type Response = Awaited<ReturnType<Harness['request']>>

/** The shared Redis keeps nothing of this run. */
async function dropKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>)
      if (keys.length > 0) await redis.unlink(...keys)
  } finally {
    redis.disconnect()
  }
}

function fuzzSuite(title: string, env: HarnessOptions['env'], runsPerOperation: number): void {
  describeEachBackend(
    title,
    (h: Harness) => {
      let a: SignedIn
      let aOwned: Owned
      let fixtures: FixtureValues
      let b: SignedIn
      const bOwned = nothingOwned()
      /** A live user who owns nothing the fuzz looks for. */
      let c: SignedIn
      const cPassword = `c-${randomUUID()}`
      /** The access token of a user deleted since it was issued. */
      let deletedToken: string

      async function ownEntry(): Promise<{ id: string; etag: string }> {
        const text = `a's entry ${randomUUID()}`
        const entry = await createEntry(h, a, { text, mood: 6, category: 'Work', occurredAt: '2024-05-01T18:30:00+02:00' })
        aOwned.entryIds.add(entry.id)
        aOwned.secrets.push(text)
        const res = await h.request({ method: 'GET', url: `/entries/${entry.id}`, headers: a.auth })
        assert.equal(res.statusCode, 200, res.body)
        return { id: String(entry.id), etag: String(res.headers.etag) }
      }

      async function renewWebhook(): Promise<void> {
        const { webhookId, deliveryId } = await ownWebhook(h, a, aOwned)
        fixtures = { ...fixtures, ownWebhookId: String(webhookId), ownDeliveryId: String(deliveryId) }
      }

      async function freshUserA(): Promise<void> {
        a = await signUp(h, PASSWORD)
        aOwned = nothingOwned()
        aOwned.secrets.push(a.email)
        for (const [text, mood, occurredAt] of [
          [`first of a ${randomUUID()}`, 3, '1900-01-01T00:00:00Z'],
          [`last of a ${randomUUID()}`, 10, '9999-12-31T23:59:59.999Z'],
        ] as const) {
          const entry = await createEntry(h, a, { text, mood, category: mood === 3 ? 'Home' : 'home', occurredAt })
          aOwned.entryIds.add(entry.id)
          aOwned.secrets.push(text)
        }
        const entry = await ownEntry()
        fixtures = {
          ownEntryId: entry.id,
          otherEntryId: [...bOwned.entryIds][0]!.toString(),
          ownEmail: a.email,
          ownPassword: PASSWORD,
          ownRefreshToken: a.refreshToken,
          ownEtag: entry.etag,
          ownWebhookId: '',
          otherWebhookId: [...bOwned.webhookIds][0]!.toString(),
          ownDeliveryId: '',
          otherDeliveryId: [...bOwned.deliveryIds].at(-1)!.toString(),
        }
        await renewWebhook()
      }

      /**
       * A signs in again. The POST /login runs may have spent A's sign-in budget with wrong
       * passwords (10 per 15 minutes); then A is a new user, as after the account-ending operations.
       */
      async function signInAgainA(): Promise<void> {
        const res = await h.request({ method: 'POST', url: '/login', payload: { email: a.email, password: PASSWORD } })
        if (res.statusCode === 429) return freshUserA()
        assert.equal(res.statusCode, 200, res.body)
        const { accessToken, refreshToken } = res.json()
        a = { ...a, accessToken, refreshToken, auth: { authorization: `Bearer ${accessToken}` } }
        fixtures = { ...fixtures, ownRefreshToken: refreshToken }
      }

      before(async () => {
        b = await signUp(h, PASSWORD)
        bOwned.secrets.push(b.email)
        // Webhooks first, so that each entry after them queues deliveries too.
        for (let i = 0; i < 2; i++) await ownWebhook(h, b, bOwned)
        await ownEntries(h, b, bOwned, 3)
        await collectDeliveries(h, b, bOwned)
        c = await signUp(h, cPassword)
        const deleted = await signUp(h, PASSWORD)
        const gone = await h.request({ method: 'DELETE', url: '/me', headers: deleted.auth, payload: { password: PASSWORD } })
        assert.equal(gone.statusCode, 204, gone.body)
        deletedToken = deleted.accessToken
        await freshUserA()
      })
      after(async () => {
        if (h.config.redisUrl) await dropKeys(h.config.redisUrl, h.config.redisKeyPrefix)
      })

      /** What holds for every answer: no 5xx, a documented status, problem+json for a 4xx, nothing of B. */
      function assertSane(operation: Operation, res: Response): void {
        assert.ok(res.statusCode < 500, `a ${res.statusCode}`)
        assert.ok(documentedStatus(operation, res.statusCode), `status ${res.statusCode} is not documented`)
        if (res.statusCode >= 400) assertProblem(res)
        assertNothingOf(res, bOwned, "user B's")
      }

      async function property<T>(
        operation: Operation,
        label: string,
        arbitrary: fc.Arbitrary<T>,
        runs: number,
        send: (value: T, note: (request: ReturnType<typeof buildRequest>, res: Response) => void) => Promise<void>,
      ): Promise<void> {
        const name = `${operation.method} ${operation.path}`
        const seed = seedFor(operation, label)
        let last = ''
        const note = (request: ReturnType<typeof buildRequest>, res: Response) => {
          last = `${request.method} ${short(request.url, 300)}\nheaders ${short(JSON.stringify(request.headers), 300)}\nbody ${short(request.payload, 300)}\n-> ${res.statusCode} ${short(res.body)}`
        }
        try {
          await fc.assert(
            fc.asyncProperty(arbitrary, (value) => send(value, note)),
            { numRuns: runs, seed, endOnFailure: true },
          )
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          throw new Error(
            `${name} ${label}[${h.backend}] failed with seed ${seed} (FUZZ_SEED=${BASE_SEED}).\nLast request:\n${last}\n\n${short(message, 3000)}`,
            { cause: error },
          )
        }
      }

      for (const operation of operations) {
        const name = `${operation.method} ${operation.path}`
        const runs = HASHING.has(name) ? Math.max(1, Math.ceil(runsPerOperation * 0.3)) : runsPerOperation
        const plans = requestArbitrary(document, operation)

        test(`${name}: ${runs} runs as A`, () =>
          property(operation, '', plans, runs, async (plan: RequestPlan, note) => {
            const request = buildRequest(operation, plan, fixtures, a.auth.authorization)
            const res = await h.request(request)
            note(request, res)
            assertSane(operation, res)
            if (carriesOtherUsersId(plan))
              assert.ok(BEFORE_LOOKUP.has(res.statusCode), `another user's id in the path is a ${res.statusCode}, not a 404`)

            // Re-create what a successful run used up, so later runs still reach the same code.
            if (res.statusCode >= 300) return
            if (ENDS_SESSION_ONLY.has(name)) await signInAgainA()
            else if (ENDS_SESSION.has(name)) await freshUserA()
            else if (operation.path === '/entries/{id}' && operation.method !== 'GET') {
              const entry = await ownEntry()
              fixtures = { ...fixtures, ownEntryId: entry.id, ownEtag: entry.etag }
            } else if (name === 'DELETE /webhooks/{id}') await renewWebhook()
          }))

        if (!operation.secured) continue
        const badRuns = Math.max(BAD_TOKENS.length, Math.ceil(runsPerOperation / 4))

        test(`${name}: ${badRuns} runs with bad tokens`, () =>
          property(operation, 'bad tokens ', fc.tuple(plans, fc.constantFrom(...BAD_TOKENS)), badRuns, async ([plan, kind], note) => {
            const authorization = badAuthorization(kind, a.accessToken, deletedToken, h.app.config.jwtSecret!)
            const request = buildRequest(operation, plan, fixtures, authorization)
            const res = await h.request(request)
            note(request, res)
            assertSane(operation, res)
            // A URL that is not one (bad percent-encoding, an overlong segment) is refused before any route is chosen, token or not.
            if (res.statusCode === 414 || (res.statusCode === 400 && res.json().type === '/problems/invalid-url')) return
            assert.equal(res.statusCode, 401, `a ${kind} token is a ${res.statusCode}, not a 401`)
            assertNothingOf(res, aOwned, "user A's")
          }))

        const otherRuns = HASHING.has(name) ? BAD_TOKENS.length : Math.ceil(runsPerOperation / 5)
        test(`${name}: ${otherRuns} runs as C with A's and B's ids`, () =>
          property(operation, 'as C ', plans, otherRuns, async (plan, note) => {
            const request = buildRequest(operation, plan, fixtures, c.auth.authorization)
            const res = await h.request(request)
            note(request, res)
            assertSane(operation, res)
            assertNothingOf(res, aOwned, "user A's")
            if (carriesOtherUsersId(plan) || carriesOtherUsersId(plan, EVERY_ID))
              assert.ok(BEFORE_LOOKUP.has(res.statusCode), `another user's id in the path is a ${res.statusCode}, not a 404`)
            if (res.statusCode < 300 && ENDS_SESSION.has(name)) c = { ...c, ...(await signIn(h, c.email, cPassword)) }
          }))
      }
    },
    { env },
  )
}

fuzzSuite('OpenAPI fuzz', ENV, RUNS)
if (process.env.TEST_REDIS_URL)
  fuzzSuite(
    'OpenAPI fuzz with Redis',
    // A prefix per backend: user ids start at 1 on both, and a cached page of one must not answer the other.
    (backend) => ({ ...ENV, REDIS_URL: process.env.TEST_REDIS_URL, REDIS_KEY_PREFIX: `moodlog-fuzz-${randomUUID()}-${backend}:` }),
    Math.ceil(RUNS / 4),
  )
