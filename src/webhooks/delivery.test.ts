import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, afterEach, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Webhook } from 'standardwebhooks'
import { describeEachBackend } from '../../test/support/harness.js'
import { createEntry } from '../../test/support/entries.js'
import { signUp, type SignedIn } from '../../test/support/users.js'
import { startReceiver, type Answer, type Receiver } from '../../test/support/webhook-receiver.js'
import { tableQueue, type DeliveryQueue } from './queue.js'
import { attempt, httpTransport, parseRetryAfter } from './send.js'
import { slotsPerUser, type WorkerOptions } from './worker.js'

/** Finished deliveries are kept this long (docs/WEBHOOKS.md). */
const RETENTION_MS = 30 * 24 * 3600_000

describe('Retry-After', () => {
  test('when the header is seconds or an IMF-fixdate, then it is read; any other text is ignored', () => {
    const now = new Date('2030-01-01T00:00:00Z')
    assert.equal(parseRetryAfter(' 120 ', now), 120)
    assert.equal(parseRetryAfter('Tue, 01 Jan 2030 01:00:00 GMT', now), 3600)
    assert.equal(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now), 0, 'a date in the past: no wait')
    for (const text of ['garbage 2099', 'Tuesday, 01-Jan-30 01:00:00 GMT', '2030-01-01T01:00:00Z', '1.5', '-5', 'soon']) {
      assert.equal(parseRetryAfter(text, now), null, text)
    }
  })
})

// Loopback receivers: plain http and private addresses allowed here; the app's own worker is off
// and each test drives a worker of its own with a clock it controls.
const env = { WEBHOOKS: 'off', WEBHOOKS_ALLOW_HTTP: 'true', WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true' }

describeEachBackend(
  'webhook delivery',
  (h) => {
    const receivers: Receiver[] = []
    after(() => Promise.all(receivers.map((r) => r.close())))
    // Workers lease from the whole queue: each test starts with no endpoint of an earlier one left.
    afterEach(() => h.db.query('delete from webhook_endpoints'))
    const receiver = async (answers: Answer[] = []) => {
      const r = await startReceiver(answers)
      receivers.push(r)
      return r
    }
    const clock = (start = Date.now() + 1000) => {
      let now = start
      return { now: () => new Date(now), advance: (ms: number) => (now += ms) }
    }
    const worker = (time: { now: () => Date }, overrides: Partial<WorkerOptions> = {}) =>
      h.app.webhooks.createWorker({ clock: time.now, random: () => 0.5, ...overrides })
    const register = async (user: SignedIn, url: string, extra: Record<string, unknown> = {}) => {
      const res = await h.request({ method: 'POST', url: '/webhooks', headers: user.auth, payload: { url, ...extra } })
      assert.equal(res.statusCode, 201, res.body)
      return res.json()
    }
    const deliveries = async (user: SignedIn, webhookId: number) => {
      const res = await h.request({ method: 'GET', url: `/webhooks/${webhookId}/deliveries`, headers: user.auth })
      assert.equal(res.statusCode, 200, res.body)
      return res.json().items
    }
    const webhook = async (user: SignedIn, id: number) =>
      (await h.request({ method: 'GET', url: `/webhooks/${id}`, headers: user.auth })).json()

    test('when an entry is created, then the receiver gets it signed per Standard Webhooks and the delivery is recorded', async () => {
      const r = await receiver([{ status: 200, body: 'thanks' }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
      const entry = await createEntry(h, user, { text: 'signed', mood: 6, category: 'work' })
      assert.equal(await worker({ now: () => new Date() }).runOnce(), 1)

      assert.equal(r.received.length, 1)
      const { headers, body } = r.received[0]!
      assert.equal(headers['content-type'], 'application/json')
      const payload = new Webhook(hook.secret).verify(body, headers as Record<string, string>) as any
      assert.deepEqual(payload, { type: 'entry.created', timestamp: payload.timestamp, data: entry })
      assert.throws(() => new Webhook('whsec_' + Buffer.alloc(32, 1).toString('base64')).verify(body, headers as Record<string, string>))

      const [delivery] = await deliveries(user, hook.id)
      assert.equal(delivery.eventId, headers['webhook-id'])
      assert.equal(delivery.status, 'succeeded')
      assert.equal(delivery.eventType, 'entry.created')
      assert.deepEqual(
        delivery.attempts.map((a: any) => [a.statusCode, a.error, a.response]),
        [[200, null, 'thanks']],
      )
      // The secret is shown once, at creation.
      assert.equal((await webhook(user, hook.id)).secret, undefined)
    })

    test('when hundreds of disabled or paused endpoints have deliveries due, then an enabled one is still delivered to', async () => {
      const r = await receiver([{ status: 200 }])
      // Signed up first: the crowd's rows come first in every index.
      const crowd = await signUp(h)
      const user = await signUp(h)
      await h.db.query(
        `with e as (
           insert into webhook_endpoints (user_id, url, events, enabled, paused_until, secret)
           select $1, 'http://127.0.0.1:1/', '{entry.created}', n % 2 = 1, case when n % 2 = 1 then now() + interval '1 day' end, 'whsec_x'
             from generate_series(1, 600) n
           returning user_id, id
         )
         insert into webhook_deliveries (user_id, endpoint_id, event_id, event_type, body, next_attempt_at)
         select user_id, id, gen_random_uuid(), 'entry.created', '{}', now() - interval '1 hour' from e`,
        [crowd.id],
      )
      const hook = await register(user, r.url)
      await createEntry(h, user, { text: 'not starved', mood: 5, category: 'x' })
      assert.equal(await worker(clock()).runOnce(), 1)
      assert.equal(r.received.length, 1)
      assert.equal((await deliveries(user, hook.id))[0].status, 'succeeded')
    })

    test('when the receiver answers with NUL bytes, then the attempt is recorded once with them replaced', async () => {
      const r = await receiver([{ status: 200, body: 'ok\u0000done' }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      await createEntry(h, user, { text: 'nul answer', mood: 5, category: 'x' })
      const time = clock()
      const w = worker(time)
      assert.equal(await w.runOnce(), 1)
      const [delivery] = await deliveries(user, hook.id)
      assert.equal(delivery.status, 'succeeded')
      assert.deepEqual(
        delivery.attempts.map((a: any) => [a.statusCode, a.response]),
        [[200, 'ok\uFFFDdone']],
      )
      time.advance(10 * 60_000)
      assert.equal(await w.runOnce(), 0, 'nothing is sent again')
      assert.equal(r.received.length, 1)
    })

    test('when the receiver answers 500, then the delivery is retried about 5 s later with the same webhook-id', async () => {
      const r = await receiver([{ status: 500 }, { status: 200 }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      await createEntry(h, user, { text: 'retry me', mood: 2, category: 'x' })
      const time = clock()
      const w = worker(time)
      assert.equal(await w.runOnce(), 1)
      const [pending] = await deliveries(user, hook.id)
      assert.equal(pending.status, 'pending')
      assert.deepEqual(
        pending.attempts.map((a: any) => [a.statusCode, a.error]),
        [[500, 'HTTP 500']],
      )
      const wait = Date.parse(pending.nextAttemptAt) - time.now().getTime()
      assert.ok(wait >= 4000 && wait <= 6000, `next attempt in ${wait} ms`)

      assert.equal(await w.runOnce(), 0, 'not due yet')
      time.advance(6000)
      assert.equal(await w.runOnce(), 1)
      assert.equal(r.received.length, 2)
      assert.equal(r.received[1]!.headers['webhook-id'], r.received[0]!.headers['webhook-id'])
      assert.equal(Number(r.received[1]!.headers['webhook-timestamp']) - Number(r.received[0]!.headers['webhook-timestamp']), 6)
      assert.equal(r.received[1]!.body, r.received[0]!.body)
      const [done] = await deliveries(user, hook.id)
      assert.equal(done.status, 'succeeded')
      assert.equal(done.attempts.length, 2)
    })

    test('when the receiver does not answer in time, then the attempt fails and the retry carries the same webhook-id', async () => {
      const r = await receiver(['hang', { status: 204 }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      await createEntry(h, user, { text: 'slow', mood: 2, category: 'x' })
      const time = clock()
      const w = worker(time, { timeoutMs: 300 })
      assert.equal(await w.runOnce(), 1)
      const [pending] = await deliveries(user, hook.id)
      assert.equal(pending.status, 'pending')
      assert.deepEqual(
        pending.attempts.map((a: any) => [a.statusCode, a.error]),
        [[null, 'no answer within 0.3 s']],
      )
      time.advance(10_000)
      // The retry with the normal 15 s limit: a loaded machine may take longer than 0.3 s to answer.
      assert.equal(await worker(time).runOnce(), 1)
      assert.equal(r.received.length, 2)
      assert.equal(r.received[1]!.headers['webhook-id'], r.received[0]!.headers['webhook-id'])
      assert.equal((await deliveries(user, hook.id))[0].status, 'succeeded')
    })

    test('when the receiver answers 410, then the endpoint is disabled at once and says why', async () => {
      const r = await receiver([{ status: 410 }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      await createEntry(h, user, { text: 'gone', mood: 2, category: 'x' })
      const time = clock()
      const w = worker(time)
      assert.equal(await w.runOnce(), 1)
      const listed = (await h.request({ method: 'GET', url: '/webhooks', headers: user.auth })).json().items
      assert.equal(listed[0].enabled, false)
      assert.match(listed[0].disabledReason, /410 Gone/)
      assert.equal((await deliveries(user, hook.id))[0].status, 'failed')

      await createEntry(h, user, { text: 'after gone', mood: 2, category: 'x' })
      time.advance(3600_000)
      assert.equal(await w.runOnce(), 0)
      assert.equal(r.received.length, 1)
      assert.equal((await deliveries(user, hook.id)).length, 1, 'a disabled endpoint queues nothing')

      // Enabling it again clears the reason.
      const enabled = await h.request({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: user.auth, payload: { enabled: true } })
      assert.deepEqual([enabled.json().enabled, enabled.json().disabledReason], [true, null])
    })

    test('when the receiver answers 429 or 503 with Retry-After, then no attempt comes sooner than it asked', async () => {
      const r = await receiver([
        { status: 429, headers: { 'retry-after': '3600' } },
        { status: 503, headers: { 'retry-after': new Date(Date.now() + 7200_000).toUTCString() } },
        { status: 200 },
      ])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      await createEntry(h, user, { text: 'later please', mood: 2, category: 'x' })
      const time = clock()
      const w = worker(time)
      await w.runOnce()
      const first = (await deliveries(user, hook.id))[0]
      assert.ok(Date.parse(first.nextAttemptAt) - time.now().getTime() >= 3600_000)
      time.advance(3599_000)
      assert.equal(await w.runOnce(), 0)
      time.advance(2000)
      assert.equal(await w.runOnce(), 1)
      const second = (await deliveries(user, hook.id))[0]
      // The HTTP-date form: about two hours from the real now, minus the hour already advanced.
      assert.ok(Date.parse(second.nextAttemptAt) - time.now().getTime() >= 3000_000)
    })

    test("when the receiver answers 429 with Retry-After, then none of the endpoint's other deliveries goes out before it either", async () => {
      const r = await receiver([{ status: 429, headers: { 'retry-after': '3600' } }, { status: 200 }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      for (let i = 0; i < 3; i++) await createEntry(h, user, { text: `busy ${i}`, mood: 5, category: 'x' })
      const time = clock()
      const w = worker(time)
      assert.equal(await w.runOnce(), 1)
      assert.equal(await w.runOnce(), 0, 'the next delivery waits for the same hour')
      assert.equal(r.received.length, 1)
      const paused = await webhook(user, hook.id)
      assert.ok(Date.parse(paused.pausedUntil) - time.now().getTime() >= 3600_000, paused.pausedUntil)
      time.advance(3601_000)
      assert.equal(await w.runOnce(), 1)
      assert.equal(r.received.length, 2)
    })

    test("when an endpoint's URL is changed, then the breaker of the old URL is cleared and the new one is sent to at once", async () => {
      const broken = await receiver([{ status: 500 }])
      const fixed = await receiver([{ status: 200 }])
      const user = await signUp(h)
      const hook = await register(user, broken.url)
      for (let i = 0; i < 6; i++) await createEntry(h, user, { text: `moved ${i}`, mood: 5, category: 'x' })
      const time = clock()
      const w = worker(time)
      for (let i = 0; i < 5; i++) assert.equal(await w.runOnce(), 1)
      assert.ok((await webhook(user, hook.id)).pausedUntil, 'paused after 5 consecutive failures')
      const moved = await h.request({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: user.auth, payload: { url: fixed.url } })
      assert.equal(moved.statusCode, 200)
      assert.deepEqual([moved.json().pausedUntil, moved.json().failingSince], [null, null])
      assert.equal(await w.runOnce(), 1)
      assert.equal(fixed.received.length, 1)
    })

    test('when plain http is no longer allowed, then an endpoint registered with an http URL is refused at delivery, not sent to', async () => {
      const r = await receiver()
      const user = await signUp(h)
      const hook = await register(user, r.url)
      await createEntry(h, user, { text: 'plain http', mood: 5, category: 'x' })
      h.app.webhooks.policy.allowHttp = false
      try {
        assert.equal(await worker(clock()).runOnce(), 1)
      } finally {
        h.app.webhooks.policy.allowHttp = true
      }
      assert.equal(r.received.length, 0, 'no request was sent')
      const [delivery] = await deliveries(user, hook.id)
      assert.equal(delivery.status, 'pending')
      assert.match(delivery.attempts[0].error, /^refused: must use https/)
    })

    test('when a 2xx arrives in time but its body never ends, then the attempt succeeded with what was read', async () => {
      let written: () => void = () => {}
      const bodyWritten = new Promise<void>((resolve) => (written = resolve))
      const server = createServer((request, response) => {
        request.resume()
        request.on('end', () => {
          response.writeHead(200)
          response.write('partial', () => written())
        })
      })
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/trickle`
        // The attempt ends when stopped; stopped only once the status line has reached the client.
        const stop = new AbortController()
        const result = attempt(h.app.webhooks.policy, httpTransport, url, {}, '{}', 3600_000, stop.signal, new Date())
        await bodyWritten
        for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
        stop.abort()
        const outcome = await result
        assert.deepEqual([outcome.statusCode, outcome.error, outcome.response, outcome.timedOut], [200, null, 'partial', false])
      } finally {
        server.closeAllConnections()
        server.close()
      }
    })

    test('when an endpoint is disabled, then its pending deliveries are not counted in the pending and oldest-age gauges', async () => {
      const r = await receiver([{ status: 410 }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      for (let i = 0; i < 3; i++) await createEntry(h, user, { text: `gauge ${i}`, mood: 5, category: 'x' })
      const gauges = async () => {
        const text = (await h.request({ method: 'GET', url: '/metrics' })).body
        const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1])
        return { pending: value('moodlog_webhook_pending_deliveries'), age: value('moodlog_webhook_oldest_pending_age_seconds') }
      }
      assert.equal((await gauges()).pending, 3)
      assert.equal(await worker(clock()).runOnce(), 1)
      assert.equal((await webhook(user, hook.id)).enabled, false, 'disabled by the 410')
      assert.deepEqual(await gauges(), { pending: 0, age: 0 })
    })

    test('when more finished deliveries are past retention than one batch, then the worker prunes them all without waiting an hour', async () => {
      const r = await receiver()
      const user = await signUp(h)
      const hook = await register(user, r.url)
      const time = clock()
      const finished = (at: number, n: number) =>
        h.db.query(
          `insert into webhook_deliveries (user_id, endpoint_id, event_id, event_type, body, status, created_at, finished_at)
           select $1, $2, gen_random_uuid(), 'entry.created', '{}', 'succeeded', $3::text::timestamptz, $3::text::timestamptz
             from generate_series(1, $4::int4)`,
          [user.id, hook.id, new Date(at).toISOString(), n],
        )
      await finished(time.now().getTime() - RETENTION_MS - 3600_000, 12_500)
      await finished(time.now().getTime() - RETENTION_MS + 3600_000, 1)
      const left = async () =>
        (await h.db.query<{ n: number }>('select count(*)::int4 as n from webhook_deliveries where user_id = $1', [user.id]))[0]!.n
      // The clock stands still: every prune after the first is a backlog carried on, never the hourly one.
      const w = worker(time, { pollMs: 10 })
      w.start()
      const outcome = await Promise.race([
        (async () => {
          while ((await left()) > 1) await sleep(20)
          return 'pruned'
        })(),
        sleep(60_000, 'stalled', { ref: false }),
      ])
      await w.stop(0)
      assert.equal(outcome, 'pruned', `${await left()} deliveries left`)
      assert.equal((await deliveries(user, hook.id)).length, 1, 'the one within retention is kept')
    })

    test('when a test event is queued, then a running worker sends it at once, not at its next poll', async () => {
      const r = await receiver()
      const user = await signUp(h)
      const hook = await register(user, r.url)
      const w = worker({ now: () => new Date() }, { pollMs: 3600_000 })
      w.start()
      const queued = await h.request({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: user.auth })
      assert.equal(queued.statusCode, 202)
      const outcome = await Promise.race([r.waitFor(1).then(() => 'delivered'), sleep(30_000, 'stalled', { ref: false })])
      await w.stop(0)
      assert.equal(outcome, 'delivered')
    })

    test('when the secret is rotated, then deliveries carry signatures of both secrets for the overlap', async () => {
      const r = await receiver()
      const user = await signUp(h)
      const hook = await register(user, r.url)
      const rotated = await h.request({ method: 'POST', url: `/webhooks/${hook.id}/secret`, headers: user.auth })
      assert.equal(rotated.statusCode, 200)
      const { secret, previousSecretExpiresAt } = rotated.json()
      assert.notEqual(secret, hook.secret)
      const overlap = Date.parse(previousSecretExpiresAt) - Date.now()
      assert.ok(overlap > 23.9 * 3600_000 && overlap <= 24 * 3600_000)
      await createEntry(h, user, { text: 'rotated', mood: 5, category: 'x' })
      await worker({ now: () => new Date() }).runOnce()
      const { headers, body } = r.received[0]!
      assert.equal(String(headers['webhook-signature']).split(' ').length, 2)
      for (const key of [secret, hook.secret]) assert.ok(new Webhook(key).verify(body, headers as Record<string, string>))
      // After the overlap only the new secret signs.
      await createEntry(h, user, { text: 'rotated later', mood: 5, category: 'x' })
      await worker({ now: () => new Date(Date.now() + 25 * 3600_000) }).runOnce()
      assert.equal(String(r.received[1]!.headers['webhook-signature']).split(' ').length, 1)
    })

    test('when one receiver never answers, then deliveries to another endpoint go through meanwhile', async () => {
      const stuck = await receiver(['hang'])
      const healthy = await receiver()
      const user = await signUp(h)
      const slowHook = await register(user, stuck.url)
      const fastHook = await register(user, healthy.url)
      for (let i = 0; i < 3; i++) await createEntry(h, user, { text: `event ${i}`, mood: 5, category: 'x' })
      const w = worker({ now: () => new Date() }, { concurrency: 2, pollMs: 20 })
      w.start()
      // All three reach the healthy receiver while the stuck one holds its first request open.
      await healthy.waitFor(3)
      await stuck.waitFor(1)
      assert.equal(stuck.received.length, 1, 'one slot for the stuck endpoint, never more')
      const fast = await deliveries(user, fastHook.id)
      assert.equal(fast.length, 3)
      await w.stop(0)
      assert.equal(stuck.received.length, 1)
      // The interrupted attempt was handed back, not counted as a failure.
      const slow = await deliveries(user, slowHook.id)
      assert.ok(slow.every((d: any) => d.status === 'pending' && d.attempts.length === 0))
    })

    test("when one user's receivers all hang, then another user's delivery still goes out and the first user holds at most three of four slots", async () => {
      const stuck = await receiver(['hang'])
      const healthy = await receiver()
      const crowded = await signUp(h)
      for (let i = 0; i < 4; i++) await register(crowded, `${stuck.url}?endpoint=${i}`)
      await createEntry(h, crowded, { text: 'to four slow receivers', mood: 5, category: 'x' })
      // Queued after the four above, so waiting longest cannot be what puts it first.
      const other = await signUp(h)
      const hook = await register(other, healthy.url)
      await createEntry(h, other, { text: 'to a healthy one', mood: 5, category: 'x' })
      assert.equal(slotsPerUser(4), 3)

      // The hanging requests never end by themselves: only the slot left for others can deliver.
      const w = worker({ now: () => new Date() }, { concurrency: 4, pollMs: 20, timeoutMs: 3600_000, leaseMs: 3600_000 })
      w.start()
      const outcome = await Promise.race([healthy.waitFor(1).then(() => 'delivered'), sleep(30_000, 'stalled', { ref: false })])
      await stuck.waitFor(3)
      const sentToStuck = stuck.received.length
      await w.stop(0)
      assert.equal(outcome, 'delivered')
      assert.equal(sentToStuck, 3)
      const [delivery] = await deliveries(other, hook.id)
      assert.equal(delivery.status, 'succeeded')
    })

    test('when a delivery finishes while the worker is leasing, then the next one goes out at once, not a poll later', async () => {
      const r = await receiver()
      const user = await signUp(h)
      await register(user, r.url)
      for (let i = 0; i < 3; i++) await createEntry(h, user, { text: `backlog ${i}`, mood: 5, category: 'x' })
      // Every empty lease (the endpoint's one slot is taken) returns only after that delivery has
      // finished: its wake-up always arrives while the loop is leasing. The poll never comes.
      const table = tableQueue(h.db)
      const queue: DeliveryQueue = {
        ...table,
        async lease(...args) {
          const leased = await table.lease(...args)
          while (leased.length === 0 && w.busy > 0) await sleep(5)
          return leased
        },
      }
      const w = worker({ now: () => new Date() }, { queue, pollMs: 3600_000 })
      w.start()
      const outcome = await Promise.race([r.waitFor(3).then(() => 'delivered'), sleep(30_000, 'stalled', { ref: false })])
      await w.stop(0)
      assert.equal(outcome, 'delivered', `${r.received.length} of 3 delivered`)
    })

    test('when an endpoint keeps failing, then the breaker pauses it, probes later and closes on success', async () => {
      const r = await receiver([{ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }, { status: 200 }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      for (let i = 0; i < 6; i++) await createEntry(h, user, { text: `b${i}`, mood: 5, category: 'x' })
      const time = clock()
      const w = worker(time)
      for (let i = 0; i < 5; i++) assert.equal(await w.runOnce(), 1)
      const paused = await webhook(user, hook.id)
      assert.ok(paused.pausedUntil, 'paused after 5 consecutive failures')
      assert.equal(await w.runOnce(), 0, 'nothing is sent while paused')
      time.advance(Date.parse(paused.pausedUntil) - time.now().getTime())
      assert.equal(await w.runOnce(), 1, 'one probe')
      const closed = await webhook(user, hook.id)
      assert.deepEqual([closed.pausedUntil, closed.failingSince, closed.enabled], [null, null, true])
    })

    test('when every attempt fails for 5 days, then the endpoint is disabled and GET /webhooks says why', async () => {
      const r = await receiver([{ status: 502 }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      await createEntry(h, user, { text: 'd1', mood: 5, category: 'x' })
      const time = clock()
      const w = worker(time)
      await w.runOnce()
      assert.ok((await webhook(user, hook.id)).failingSince)
      await createEntry(h, user, { text: 'd2', mood: 5, category: 'x' })
      time.advance(5 * 24 * 3600_000)
      await w.runOnce()
      const [listed] = (await h.request({ method: 'GET', url: '/webhooks', headers: user.auth })).json().items
      assert.equal(listed.enabled, false)
      assert.match(listed.disabledReason, /failed since .*HTTP 502/)
    })

    test('when the last scheduled retry fails, then the delivery is failed after 10 attempts', async () => {
      const r = await receiver([{ status: 500 }])
      const user = await signUp(h)
      const hook = await register(user, r.url)
      await createEntry(h, user, { text: 'doomed', mood: 5, category: 'x' })
      const time = clock()
      // The breaker would pause the endpoint between these; this test is about the schedule alone.
      const w = worker(time)
      const waits: number[] = []
      for (let i = 0; i < 10; i++) {
        assert.equal(await w.runOnce(), 1, `attempt ${i + 1}`)
        const [d] = await deliveries(user, hook.id)
        if (d.status === 'pending') {
          waits.push(Math.round((Date.parse(d.nextAttemptAt) - time.now().getTime()) / 1000))
          const paused = (await webhook(user, hook.id)).pausedUntil
          time.advance(Math.max(Date.parse(d.nextAttemptAt), paused ? Date.parse(paused) : 0) - time.now().getTime())
        }
      }
      assert.deepEqual(waits, [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400])
      const [d] = await deliveries(user, hook.id)
      assert.equal(d.status, 'failed')
      assert.equal(d.attempts.length, 10)
    })
  },
  { env },
)
