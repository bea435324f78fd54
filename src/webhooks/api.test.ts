import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { describeEachBackend } from '../../test/support/harness.js'
import { createEntry } from '../../test/support/entries.js'
import { signUp } from '../../test/support/users.js'
import { startReceiver, type Receiver } from '../../test/support/webhook-receiver.js'
import { tableQueue } from './queue.js'

const env = { WEBHOOKS: 'off', WEBHOOKS_ALLOW_HTTP: 'true', WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOKS_MAX_PER_USER: '3' }

describeEachBackend(
  'webhooks API',
  (h) => {
    let r: Receiver
    after(() => r?.close())
    const post = async (auth: { authorization: string }, payload: Record<string, unknown>) =>
      h.request({ method: 'POST', url: '/webhooks', headers: auth, payload })

    test('when a webhook is registered without events, then it subscribes to every entry event and is listed without its secret', async () => {
      r = await startReceiver()
      const user = await signUp(h)
      const created = await post(user.auth, { url: r.url, description: 'my receiver' })
      assert.equal(created.statusCode, 201)
      const hook = created.json()
      assert.equal(created.headers.location, `/webhooks/${hook.id}`)
      assert.deepEqual(hook.events, ['entry.created', 'entry.updated', 'entry.deleted'])
      assert.equal(hook.enabled, true)
      const listed = (await h.request({ method: 'GET', url: '/webhooks', headers: user.auth })).json()
      const { secret: _secret, ...shown } = hook
      assert.deepEqual(listed.items, [shown])
    })

    test('when the per-account limit is reached, then another webhook is refused with 409', async () => {
      const user = await signUp(h)
      for (let i = 0; i < 3; i++) assert.equal((await post(user.auth, { url: `${r.url}?n=${i}` })).statusCode, 201)
      const refused = await post(user.auth, { url: r.url })
      assert.equal(refused.statusCode, 409)
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.match(refused.json().detail, /At most 3/)
    })

    test('when a disabled webhook is sent a test event, then it is 409 saying to enable it first, and 202 once enabled', async () => {
      const user = await signUp(h)
      const hook = (await post(user.auth, { url: r.url })).json()
      const disable = await h.request({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: user.auth, payload: { enabled: false } })
      assert.equal(disable.statusCode, 200)
      const refused = await h.request({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: user.auth })
      assert.equal(refused.statusCode, 409)
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.match(refused.json().detail, /disabled; enable it first/)
      await h.request({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: user.auth, payload: { enabled: true } })
      assert.equal((await h.request({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: user.auth })).statusCode, 202)
      // Its pending delivery goes with it: later tests run the worker once and expect only their own.
      await h.request({ method: 'DELETE', url: `/webhooks/${hook.id}`, headers: user.auth })
    })

    test('when the body is malformed, then it is 400 problem+json naming the field', async () => {
      const user = await signUp(h)
      for (const payload of [
        { url: 'not a url' },
        { url: r.url, events: ['entry.exploded'] },
        { url: r.url, events: [] },
        { url: r.url, extra: 1 },
      ]) {
        const res = await post(user.auth, payload)
        assert.equal(res.statusCode, 400, JSON.stringify(payload))
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      }
      const bad = await post(user.auth, { url: 'ftp://example.com/x' })
      assert.equal(bad.json().errors[0].field, 'url')
    })

    test('when a description holds a NUL or a lone surrogate, then it is 400 naming the field and the stored one is unchanged', async () => {
      const user = await signUp(h)
      const hook = (await post(user.auth, { url: r.url, description: 'kept' })).json()
      for (const description of ['a\u0000b', 'x\ud800y']) {
        for (const res of [
          await post(user.auth, { url: r.url, description }),
          await h.request({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: user.auth, payload: { description } }),
        ]) {
          assert.equal(res.statusCode, 400, `${JSON.stringify(description)}: ${res.body}`)
          assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
          assert.deepEqual(
            res.json().errors.map((e: { field: string }) => e.field),
            ['description'],
          )
        }
      }
      const stored = await h.request({ method: 'GET', url: `/webhooks/${hook.id}`, headers: user.auth })
      assert.equal(stored.json().description, 'kept')
      const listed = (await h.request({ method: 'GET', url: '/webhooks', headers: user.auth })).json()
      assert.equal(listed.items.length, 1, 'no endpoint was registered with the refused description')
    })

    test('when the description or URL holds NUL or a lone surrogate, or the URL is too long once encoded, then it is 400 naming the field', async () => {
      const user = await signUp(h)
      const hook = (await post(user.auth, { url: r.url })).json()
      const patch = (payload: Record<string, unknown>) =>
        h.request({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: user.auth, payload })
      const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ url: r.url, description: 'a\u0000b' }, 'description', /NUL/],
        [{ url: r.url, description: 'half \uD83D' }, 'description', /surrogate/],
        [{ url: `${r.url}?q=\uDE00` }, 'url', /surrogate/],
        // 1,500 characters sent, 2,700 stored: each é is percent-encoded as %C3%A9.
        [{ url: `${r.url}?q=${'é'.repeat(1500)}` }, 'url', /2048 characters once normalised/],
      ]
      for (const [payload, field, message] of cases) {
        for (const res of [await post(user.auth, payload), await patch(payload)]) {
          assert.equal(res.statusCode, 400, JSON.stringify(payload))
          assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
          assert.equal(res.json().errors[0].field, field)
          assert.match(res.json().errors[0].message, message)
        }
      }
      const unchanged = (await h.request({ method: 'GET', url: `/webhooks/${hook.id}`, headers: user.auth })).json()
      assert.deepEqual([unchanged.url, unchanged.description], [r.url, ''])
      await h.request({ method: 'DELETE', url: `/webhooks/${hook.id}`, headers: user.auth })
    })

    test('when a secret is shown (creation, rotation), then no cache may keep the answer', async () => {
      const user = await signUp(h)
      const hook = await post(user.auth, { url: r.url })
      const rotated = await h.request({ method: 'POST', url: `/webhooks/${hook.json().id}/secret`, headers: user.auth })
      for (const [name, answer] of Object.entries({ hook, rotated })) {
        assert.match(answer.json().secret, /^whsec_/, name)
        assert.equal(answer.headers['cache-control'], 'no-store', name)
      }
      await h.request({ method: 'DELETE', url: `/webhooks/${hook.json().id}`, headers: user.auth })
    })

    test('when a delivery of a disabled webhook is retried, then it is 409 saying to enable it first', async () => {
      const user = await signUp(h)
      const hook = (await post(user.auth, { url: r.url })).json()
      const { deliveryId } = (await h.request({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: user.auth })).json()
      await h.request({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: user.auth, payload: { enabled: false } })
      const retry = () => h.request({ method: 'POST', url: `/webhooks/${hook.id}/deliveries/${deliveryId}/retry`, headers: user.auth })
      const refused = await retry()
      assert.equal(refused.statusCode, 409)
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.equal(refused.json().type, '/problems/webhook-disabled')
      assert.match(refused.json().detail, /disabled; enable it first/)
      await h.request({ method: 'PATCH', url: `/webhooks/${hook.id}`, headers: user.auth, payload: { enabled: true } })
      assert.equal((await retry()).statusCode, 202)
      await h.request({ method: 'DELETE', url: `/webhooks/${hook.id}`, headers: user.auth })
    })

    test('when the worker sending a delivery died and its lease expired, then a retry is accepted, not 409 forever', async () => {
      const user = await signUp(h)
      const hook = (await post(user.auth, { url: r.url })).json()
      const { deliveryId } = (await h.request({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: user.auth })).json()
      // Leased by a worker that never reports back; its lease ended a minute ago.
      const now = new Date(Date.now() + 1000)
      const leased = await tableQueue(h.db).lease(now, new Date(now.getTime() - 60_000), 100, [], 100)
      assert.ok(leased.some((lease) => lease.id === deliveryId))
      const retry = await h.request({ method: 'POST', url: `/webhooks/${hook.id}/deliveries/${deliveryId}/retry`, headers: user.auth })
      assert.equal(retry.statusCode, 202, retry.body)
      assert.equal(retry.json().status, 'pending')
      await h.request({ method: 'DELETE', url: `/webhooks/${hook.id}`, headers: user.auth })
    })

    test('when another user asks for my webhook, then it is 404 for every operation', async () => {
      const owner = await signUp(h)
      const other = await signUp(h)
      const hook = (await post(owner.auth, { url: r.url })).json()
      const calls = [
        { method: 'GET', url: `/webhooks/${hook.id}` },
        { method: 'PATCH', url: `/webhooks/${hook.id}`, payload: { enabled: false } },
        { method: 'DELETE', url: `/webhooks/${hook.id}` },
        { method: 'POST', url: `/webhooks/${hook.id}/secret` },
        { method: 'POST', url: `/webhooks/${hook.id}/test` },
        { method: 'GET', url: `/webhooks/${hook.id}/deliveries` },
      ] as const
      for (const call of calls) assert.equal((await h.request({ ...call, headers: other.auth })).statusCode, 404, call.method + call.url)
      assert.equal((await h.request({ method: 'GET', url: `/webhooks/${hook.id}`, headers: owner.auth })).statusCode, 200)
    })

    test('when deliveries are listed, then pages follow nextCursor newest first, and a retry queues one again', async () => {
      const user = await signUp(h)
      const hook = (await post(user.auth, { url: r.url, events: ['entry.created'] })).json()
      for (let i = 0; i < 3; i++) await createEntry(h, user, { text: `p${i}`, mood: 5, category: 'x' })
      const test = await h.request({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: user.auth })
      assert.equal(test.statusCode, 202)
      const first = (await h.request({ method: 'GET', url: `/webhooks/${hook.id}/deliveries?limit=3`, headers: user.auth })).json()
      assert.equal(first.items.length, 3)
      assert.equal(first.items[0].eventType, 'webhook.test')
      assert.equal(first.items[0].id, test.json().deliveryId)
      const second = (
        await h.request({ method: 'GET', url: `/webhooks/${hook.id}/deliveries?limit=3&cursor=${first.nextCursor}`, headers: user.auth })
      ).json()
      assert.equal(second.items.length, 1)
      assert.equal(second.nextCursor, null)

      await h.app.webhooks.createWorker({ concurrency: 1 }).runOnce()
      const sent = (await h.request({ method: 'GET', url: `/webhooks/${hook.id}/deliveries`, headers: user.auth })).json().items
      const done = sent.find((d: any) => d.status === 'succeeded')
      assert.ok(done)
      const retried = await h.request({ method: 'POST', url: `/webhooks/${hook.id}/deliveries/${done.id}/retry`, headers: user.auth })
      assert.equal(retried.statusCode, 202)
      assert.equal(retried.json().status, 'pending')
      assert.equal(retried.json().attempts.length, 1, 'the history is kept')
      const missing = await h.request({ method: 'POST', url: `/webhooks/${hook.id}/deliveries/999999999/retry`, headers: user.auth })
      assert.equal(missing.statusCode, 404)
      await h.request({ method: 'DELETE', url: `/webhooks/${hook.id}`, headers: user.auth })
    })

    test('when the account is deleted, then its endpoints and pending deliveries are gone', async () => {
      const user = await signUp(h)
      await post(user.auth, { url: r.url })
      await createEntry(h, user, { text: 'pending', mood: 5, category: 'x' })
      const count = async (table: string) =>
        (await h.db.query<{ n: number }>(`select count(*)::int4 as n from ${table} where user_id = $1`, [user.id]))[0]!.n
      assert.equal(await count('webhook_deliveries'), 1)
      const deleted = await h.request({ method: 'DELETE', url: '/me', headers: user.auth, payload: { password: user.password } })
      assert.equal(deleted.statusCode, 204)
      assert.equal(await count('webhook_endpoints'), 0)
      assert.equal(await count('webhook_deliveries'), 0)
    })

    test('when the OpenAPI document is read, then every webhook operation is in it with a camelCase operationId', async () => {
      const doc = (await h.request({ method: 'GET', url: '/openapi.json' })).json()
      const ids = Object.entries(doc.paths as Record<string, Record<string, { operationId?: string }>>)
        .filter(([path]) => path.startsWith('/webhooks'))
        .flatMap(([, ops]) => Object.values(ops).map((op) => op.operationId))
      assert.deepEqual(ids.sort(), [
        'createWebhook',
        'deleteWebhook',
        'getWebhook',
        'listWebhookDeliveries',
        'listWebhooks',
        'retryWebhookDelivery',
        'rotateWebhookSecret',
        'testWebhook',
        'updateWebhook',
      ])
    })
  },
  { env },
)
