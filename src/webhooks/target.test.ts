import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { describeEachBackend } from '../../test/support/harness.js'
import { createEntry } from '../../test/support/entries.js'
import { signUp } from '../../test/support/users.js'
import { attempt, type Transport } from './send.js'
import { addressProblem, parseTargetUrl, resolveTarget, TargetRefused, type ResolvedAddress } from './target.js'

/** One address per class the guard refuses, IPv4-mapped and other embedded IPv6 forms included. */
const REFUSED: Array<[string, string]> = [
  ['169.254.169.254', 'cloud metadata'],
  ['fd00:ec2::254', 'cloud metadata'],
  ['::ffff:169.254.169.254', 'cloud metadata'],
  ['0.0.0.0', 'unspecified'],
  ['::', 'unspecified'],
  ['127.0.0.1', 'loopback'],
  ['127.8.9.10', 'loopback'],
  ['::1', 'loopback'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
  ['64:ff9b::7f00:1', 'loopback'],
  ['::ffff:0:127.0.0.1', 'loopback'],
  ['::ffff:0:a00:1', 'private'],
  ['::ffff:0:169.254.169.254', 'cloud metadata'],
  ['64:ff9b:1::1', 'reserved'],
  ['64:ff9b:1:ffff::808:808', 'reserved'],
  ['2002:7f00:1::', 'loopback'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:c0a8:101', 'private'],
  ['fc00::1', 'private'],
  ['fd12:3456::1', 'private'],
  ['169.254.1.1', 'link-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['100.64.0.1', 'shared (CGNAT)'],
  ['100.127.255.254', 'shared (CGNAT)'],
  ['::ffff:100.64.0.1', 'shared (CGNAT)'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['ff02::1', 'multicast'],
  ['255.255.255.255', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['2001:db8::1', 'reserved'],
]
const PUBLIC = [
  '93.184.215.14',
  '8.8.8.8',
  '172.32.0.1',
  '100.128.0.1',
  '2606:4700::1111',
  '::ffff:93.184.215.14',
  '::ffff:0:8.8.8.8',
  '64:ff9b::808:808',
  '2002:5db8:d70e::',
]

const policy = (addresses: ResolvedAddress[], allowPrivate = false) => ({
  allowHttp: false,
  allowPrivate,
  resolve: async () => addresses,
})
const family = (address: string): 4 | 6 => (address.includes(':') ? 6 : 4)

describe('webhook target guard', () => {
  test('when an address of a refused class is checked, then it is named as that class', () => {
    for (const [address, name] of REFUSED) assert.equal(addressProblem(address), name, address)
    for (const address of PUBLIC) assert.equal(addressProblem(address), undefined, address)
  })

  test('when a host resolves to any refused address, then the URL is refused (the resolver is the only thing asked)', async () => {
    const url = new URL('https://hooks.example.test/in')
    for (const [address] of REFUSED) {
      const mixed = [
        { address: '93.184.215.14', family: 4 as const },
        { address, family: family(address) },
      ]
      await assert.rejects(resolveTarget(url, policy(mixed)), TargetRefused, address)
    }
    const ok = await resolveTarget(url, policy([{ address: '93.184.215.14', family: 4 }]))
    assert.deepEqual(ok, { address: '93.184.215.14', family: 4 })
    // The allow flag lifts the address rule.
    assert.deepEqual(await resolveTarget(url, policy([{ address: '127.0.0.1', family: 4 }], true)), { address: '127.0.0.1', family: 4 })
  })

  test('when the URL has an IP literal, then it is checked without resolving', async () => {
    const never = { allowHttp: true, allowPrivate: false, resolve: async () => assert.fail('no lookup for a literal') }
    await assert.rejects(resolveTarget(new URL('https://[::ffff:127.0.0.1]/'), never), /loopback/)
    await assert.rejects(resolveTarget(new URL('https://169.254.169.254/latest/meta-data'), never), /cloud metadata/)
    await assert.rejects(resolveTarget(new URL('https://0x7f000001/'), never), /loopback/)
  })

  test('when the host name never resolves, then the attempt fails within its time limit without a connection', async () => {
    let asked = 0
    const hanging = { allowHttp: false, allowPrivate: false, resolve: () => (asked++, new Promise<ResolvedAddress[]>(() => {})) }
    const transport: Transport = async () => assert.fail('no connection without an address')
    // The attempt's own timer does not keep a process alive (a server does): this test has to, for
    // long enough (a lookup that is never given up would leave the test pending when it ends).
    const alive = setTimeout(() => {}, 20_000)
    const result = await attempt(
      hanging,
      transport,
      'https://slow-dns.example.test/',
      {},
      '{}',
      200,
      new AbortController().signal,
      new Date(),
    )
    clearTimeout(alive)
    assert.equal(asked, 1)
    assert.deepEqual([result.timedOut, result.refused, result.error], [true, false, 'no answer within 0.2 s'])
  })

  test('when the scheme is not https, or the URL carries credentials, then it is refused', () => {
    assert.throws(() => parseTargetUrl('http://example.com/', { allowHttp: false }), /must use https/)
    assert.equal(parseTargetUrl('http://example.com/', { allowHttp: true }).protocol, 'http:')
    assert.throws(() => parseTargetUrl('ftp://example.com/', { allowHttp: true }), TargetRefused)
    assert.throws(() => parseTargetUrl('https://user:pw@example.com/', { allowHttp: false }), /credentials/)
  })
})

describeEachBackend(
  'webhook SSRF guard with the allow flags off',
  (h) => {
    test('when a webhook URL resolves to a non-public address, then registration is refused with 400 naming the class', async () => {
      const user = await signUp(h)
      let resolving = '127.0.0.1'
      h.app.webhooks.policy.resolve = async () => [{ address: resolving, family: family(resolving) }]
      for (const [address, name] of REFUSED) {
        resolving = address.split('%')[0]!
        const res = await h.request({
          method: 'POST',
          url: '/webhooks',
          headers: user.auth,
          payload: { url: 'https://hooks.example.test/in' },
        })
        assert.equal(res.statusCode, 400, address)
        assert.equal(res.json().errors[0].field, 'url')
        const { message } = res.json().errors[0]
        assert.ok(message.startsWith(`resolves to a ${name} address`), message)
        assert.ok(!message.includes(resolving), `the internal address is not shown: ${message}`)
      }
      const http = await h.request({
        method: 'POST',
        url: '/webhooks',
        headers: user.auth,
        payload: { url: 'http://hooks.example.test/in' },
      })
      assert.equal(http.statusCode, 400)
      assert.match(http.json().errors[0].message, /https/)
    })

    test('when the host later resolves to a private address (DNS rebinding), then the delivery is refused before any connection', async () => {
      const user = await signUp(h)
      h.app.webhooks.policy.resolve = async () => [{ address: '93.184.215.14', family: 4 }]
      const created = await h.request({
        method: 'POST',
        url: '/webhooks',
        headers: user.auth,
        payload: { url: 'https://hooks.example.test/in' },
      })
      assert.equal(created.statusCode, 201)
      await createEntry(h, user, { text: 'rebind', mood: 5, category: 'x' })

      const connections: string[] = []
      const transport: Transport = async ({ target }) => {
        connections.push(target.address)
        return { status: 200, headers: {}, excerpt: '' }
      }
      h.app.webhooks.policy.resolve = async () => [{ address: '169.254.169.254', family: 4 }]
      const worker = h.app.webhooks.createWorker({ transport })
      assert.equal(await worker.runOnce(), 1)
      assert.deepEqual(connections, [], 'no connection was attempted')
      const [delivery] = (await h.request({ method: 'GET', url: `/webhooks/${created.json().id}/deliveries`, headers: user.auth })).json()
        .items
      assert.equal(delivery.status, 'pending')
      assert.match(delivery.attempts[0].error, /^refused: resolves to a cloud metadata address/)
      assert.ok(!delivery.attempts[0].error.includes('169.254.169.254'), 'the internal address is not shown')

      // Back on a public address, the connection goes to exactly the address that was checked.
      h.app.webhooks.policy.resolve = async () => [{ address: '93.184.215.14', family: 4 }]
      await h.app.webhooks.createWorker({ transport, clock: () => new Date(Date.now() + 60_000) }).runOnce()
      assert.deepEqual(connections, ['93.184.215.14'])
    })
  },
  { env: { WEBHOOKS: 'off' } },
)
