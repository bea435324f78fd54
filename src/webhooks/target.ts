import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'

/**
 * Where a webhook may be sent (SSRF guard). Checked when an endpoint is registered or changed and
 * again at every delivery, on the addresses the host resolves to at that moment; the connection
 * then goes to the address that was checked (see `pinnedLookup`), so DNS rebinding cannot swap it.
 */

export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

/** Host name → addresses. Injectable, so tests check refusals without DNS or any socket. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>

export const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))

export interface TargetPolicy {
  /** http:// as well as https:// (WEBHOOKS_ALLOW_HTTP). */
  allowHttp: boolean
  /** Any address, private ones included (WEBHOOKS_ALLOW_PRIVATE_TARGETS): unsafe on a shared host. */
  allowPrivate: boolean
  resolve: Resolver
}

/** A URL or address the policy does not allow; `message` says why, for the API and the delivery log. */
export class TargetRefused extends Error {
  override name = 'TargetRefused'
}

type AddressClass = 'cloud metadata' | 'unspecified' | 'loopback' | 'private' | 'link-local' | 'shared (CGNAT)' | 'multicast' | 'reserved'

const CLASSES: Array<[AddressClass, 'ipv4' | 'ipv6', string, number]> = [
  ['cloud metadata', 'ipv4', '169.254.169.254', 32],
  ['cloud metadata', 'ipv6', 'fd00:ec2::254', 128],
  ['unspecified', 'ipv4', '0.0.0.0', 8],
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv4', '127.0.0.0', 8],
  ['loopback', 'ipv6', '::1', 128],
  ['private', 'ipv4', '10.0.0.0', 8],
  ['private', 'ipv4', '172.16.0.0', 12],
  ['private', 'ipv4', '192.168.0.0', 16],
  ['private', 'ipv6', 'fc00::', 7],
  ['private', 'ipv6', 'fec0::', 10],
  ['link-local', 'ipv4', '169.254.0.0', 16],
  ['link-local', 'ipv6', 'fe80::', 10],
  ['shared (CGNAT)', 'ipv4', '100.64.0.0', 10],
  ['multicast', 'ipv4', '224.0.0.0', 4],
  ['multicast', 'ipv6', 'ff00::', 8],
  ['reserved', 'ipv4', '240.0.0.0', 4],
  ['reserved', 'ipv4', '192.0.0.0', 24],
  ['reserved', 'ipv4', '192.0.2.0', 24],
  ['reserved', 'ipv4', '198.18.0.0', 15],
  ['reserved', 'ipv4', '198.51.100.0', 24],
  ['reserved', 'ipv4', '203.0.113.0', 24],
  ['reserved', 'ipv6', '2001:db8::', 32],
  ['reserved', 'ipv6', '100::', 64],
  // Local-use NAT64 (RFC 8215): translates into whatever IPv4 network the operator routes it to.
  ['reserved', 'ipv6', '64:ff9b:1::', 48],
]

const BLOCKS = CLASSES.map(([name, family, network, prefix]) => {
  const list = new BlockList()
  list.addSubnet(network, prefix, family)
  return { name, family, list }
})

/** The eight 16-bit groups of an IPv6 address (zone id dropped, embedded dotted quad read). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0]!.toLowerCase()
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number]
    text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const start = parse(head)
  const end = tail === undefined ? [] : parse(tail)
  return [...start, ...Array(8 - start.length - end.length).fill(0), ...end]
}

/**
 * The IPv4 address hidden in an IPv6 one, where a stack may route it as IPv4: mapped (::ffff:a.b.c.d),
 * translated (::ffff:0:a.b.c.d, RFC 2765), compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4
 * (2002:AABB:CCDD::).
 */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address)
  const quad = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0)
  if (zeros(0, 5) && g[5] === 0xffff) return quad(g[6]!, g[7]!)
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return quad(g[6]!, g[7]!)
  if (zeros(0, 6) && (g[6] !== 0 || g[7]! > 1)) return quad(g[6]!, g[7]!)
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return quad(g[6]!, g[7]!)
  if (g[0] === 0x2002) return quad(g[1]!, g[2]!)
  return undefined
}

/** Why an address is not a public one (undefined: it is). */
export function addressProblem(address: string): AddressClass | undefined {
  const version = isIP(address)
  if (version === 0) return 'reserved'
  if (version === 6) {
    const inner = embeddedIpv4(address)
    if (inner !== undefined) return addressProblem(inner)
  }
  const family = version === 4 ? 'ipv4' : 'ipv6'
  return BLOCKS.find((block) => block.family === family && block.list.check(address, family))?.name
}

/** Syntax and scheme; no address check. Throws `TargetRefused`. */
export function parseTargetUrl(raw: string, policy: Pick<TargetPolicy, 'allowHttp'>): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new TargetRefused('must be an absolute URL, e.g. https://example.com/hooks/moodlog')
  }
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) {
    throw new TargetRefused(
      policy.allowHttp ? 'must use https or http' : 'must use https (http is allowed only with WEBHOOKS_ALLOW_HTTP=true)',
    )
  }
  if (url.username || url.password) throw new TargetRefused('must not contain credentials')
  if (!url.hostname) throw new TargetRefused('has no host')
  return url
}

/** The host of a URL as a resolver takes it (IPv6 literals without brackets). */
function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
}

/** The resolver's answer, or the signal's reason as soon as it aborts (a lookup may take longer than the attempt may). */
function resolveWithin(resolve: Resolver, host: string, signal: AbortSignal | undefined): Promise<ResolvedAddress[]> {
  if (!signal) return resolve(host)
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((done, fail) => {
    const abort = () => fail(signal.reason)
    signal.addEventListener('abort', abort, { once: true })
    resolve(host)
      .then(done, fail)
      .finally(() => signal.removeEventListener('abort', abort))
  })
}

/**
 * Resolves the URL's host and checks every address it has (one bad address refuses the URL: a
 * client may connect to any of them). Returns the address to connect to. No socket is opened here.
 * When `signal` aborts first, rejects with its reason (not a `TargetRefused`).
 */
export async function resolveTarget(url: URL, policy: TargetPolicy, signal?: AbortSignal): Promise<ResolvedAddress> {
  const host = hostOf(url)
  const literal = isIP(host)
  let addresses: ResolvedAddress[]
  if (literal !== 0) {
    addresses = [{ address: host, family: literal === 6 ? 6 : 4 }]
  } else {
    try {
      addresses = await resolveWithin(policy.resolve, host, signal)
    } catch (error) {
      if (signal?.aborted) throw error
      throw new TargetRefused(`host ${host} does not resolve (${(error as { code?: string }).code ?? 'lookup failed'})`)
    }
    if (addresses.length === 0) throw new TargetRefused(`host ${host} does not resolve`)
  }
  if (!policy.allowPrivate) {
    for (const { address } of addresses) {
      const problem = addressProblem(address)
      if (problem) {
        // The class only: the internal address itself would tell a user about the network moodlog runs in.
        throw new TargetRefused(`resolves to a ${problem} address; only public addresses are allowed (WEBHOOKS_ALLOW_PRIVATE_TARGETS)`)
      }
    }
  }
  return addresses[0]!
}

/** A `lookup` for http.request that answers with the checked address only: no second DNS query. */
export function pinnedLookup(target: ResolvedAddress) {
  return (_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }])
    else callback(null, target.address, target.family)
  }
}
