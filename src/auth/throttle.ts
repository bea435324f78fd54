import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import { tooManyRequests } from '../http/errors.js'
import { addressKey } from '../http/rate-limit.js'
import { deleteKeysStartingWith } from '../store/redis.js'

interface Budget {
  /** Attempts per window. */
  points: number
  /** Window in seconds, from the first attempt. */
  duration: number
}

/**
 * Password checks (sign-in, password change, account deletion) per budget; docs/OPERATIONS.md gives
 * the reasons. Tight per account and address, so a guesser is slowed at once; loose per account,
 * so a guesser cannot lock the owner out from another address, yet a botnet's guesses at one
 * account stay bounded; per address for one client guessing across many accounts. An address the
 * account has signed in from before (a known pair) is exempt from the per-account budget.
 */
export const SIGN_IN_LIMITS = {
  accountAddress: { points: 10, duration: 15 * 60 },
  account: { points: 100, duration: 60 * 60 },
  address: { points: 100, duration: 15 * 60 },
} as const satisfies Record<string, Budget>

const THROTTLED = 'Too many failed sign-in attempts; try again later.'

/** One checked attempt: a correct password gives its points back, so only failures count. */
export interface Attempt {
  succeeded(): Promise<void>
  /**
   * The password was never checked (the client left while its check waited, the hasher was too
   * busy, the database failed): not a guess, so nothing is counted, and nothing is learnt either.
   */
  unchecked(): Promise<void>
}

/**
 * Budgets on Redis when it is configured (one atomic Lua round trip per budget, shared by every
 * instance) with an in-memory insurance limiter while Redis is down, so the throttle never opens;
 * otherwise in memory.
 */
const limiterPrefix = (name: string) => `signin:${name}`

function limiter(name: string, budget: Budget, redis: Redis | undefined): RateLimiterAbstract {
  const keyPrefix = limiterPrefix(name)
  const memory = new RateLimiterMemory({ ...budget, keyPrefix })
  if (!redis) return memory
  return new RateLimiterRedis({ ...budget, keyPrefix, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: memory })
}

const hashed = (text: string) => createHash('sha256').update(text).digest('base64url')

/** How long a correct password from an address makes the (account, address) pair known. */
const KNOWN_PAIR_MS = 30 * 24 * 60 * 60 * 1000

/** Known pairs kept in memory at most, per instance (some 200 bytes each: about 20 MB); the least recently signed in go first. */
const KNOWN_PAIRS_IN_MEMORY = 100_000

const knownPrefix = (account: string) => `signin:known:${account}:`

/**
 * The (account, address) pairs that have passed a password check: OWASP's known devices ("Slow Down
 * Online Guessing Attacks with Device Cookies") with the address as the device, so a botnet that
 * spends an account's ceiling does not lock the owner out where they signed in before. Only hashes
 * are kept. On Redis (shared by every instance) when it is configured, in memory while it is down,
 * as the budgets' insurance limiter does; otherwise in memory. In memory an LRU cache with a size
 * cap, not rate-limiter-flexible's store: that store expires each key with a `setTimeout`, and
 * Node fires one longer than about 24.8 days at once.
 */
class KnownPairs {
  private readonly memory = new LRUCache<string, true>({ max: KNOWN_PAIRS_IN_MEMORY, ttl: KNOWN_PAIR_MS })

  constructor(private readonly redis: Redis | undefined) {}

  /** The Redis client when it can answer now (as `rejectIfRedisNotReady` does for the budgets). */
  private get ready(): Redis | undefined {
    return this.redis?.status === 'ready' ? this.redis : undefined
  }

  async has(key: string): Promise<boolean> {
    const redis = this.ready
    if (redis) {
      try {
        return (await redis.exists(key)) === 1
      } catch {
        // Redis failed mid-command: as for the budgets, memory answers instead.
      }
    }
    return this.memory.has(key)
  }

  async remember(key: string): Promise<void> {
    const redis = this.ready
    if (redis) {
      try {
        await redis.set(key, '1', 'PX', KNOWN_PAIR_MS)
        return
      } catch {
        // Kept in memory below, so this instance still knows the owner.
      }
    }
    this.memory.set(key, true)
  }

  async forget(prefix: string): Promise<void> {
    for (const key of this.memory.keys()) if (key.startsWith(prefix)) this.memory.delete(key)
    if (this.redis) await deleteKeysStartingWith(this.redis, prefix)
  }
}

export class SignInThrottle {
  private readonly accountAddress: RateLimiterAbstract
  private readonly account: RateLimiterAbstract
  private readonly address: RateLimiterAbstract
  private readonly known: KnownPairs

  constructor(private readonly redis?: Redis) {
    this.accountAddress = limiter('account-address', SIGN_IN_LIMITS.accountAddress, redis)
    this.account = limiter('account', SIGN_IN_LIMITS.account, redis)
    this.address = limiter('address', SIGN_IN_LIMITS.address, redis)
    this.known = new KnownPairs(redis)
  }

  /**
   * Takes one attempt from each budget before the password is checked, and throws 429 when one is
   * spent. Each take is atomic, so parallel guesses cannot all pass; the budgets are taken in turn
   * and a refusal gives back what was taken, so an attempt that is refused for one (account,
   * address) never counts against the account as a whole. A known pair takes nothing from the
   * account's budget. `address` is counted by its `addressKey` (an IPv6 /56, say).
   */
  async take(canonicalEmail: string, address: string): Promise<Attempt> {
    const account = hashed(canonicalEmail)
    const client = addressKey(address)
    const pair = `${knownPrefix(account)}${hashed(client)}`
    // The address first: once it is spent, a flood of attempts at ever new accounts is refused
    // before anything is stored per account.
    const steps: Step[] = [
      [this.address, client],
      [this.accountAddress, `${account}:${client}`],
    ]
    if (!(await this.known.has(pair))) steps.push([this.account, account])
    const taken: Step[] = []
    for (const [index, [budget, key]] of steps.entries()) {
      try {
        await budget.consume(key)
      } catch (refusal) {
        await giveBack(taken)
        if (refusal instanceof RateLimiterRes) throw tooManyRequests((await timeLeft(refusal, steps.slice(index + 1))) / 1000, THROTTLED)
        throw refusal
      }
      taken.push([budget, key])
    }
    return {
      succeeded: async () => {
        await Promise.all([giveBack(taken), this.known.remember(pair)])
      },
      unchecked: () => giveBack(taken),
    }
  }

  /**
   * Erasure: drops the budgets and known pairs of a deleted account (the per-address budget is the
   * address's, not the account's). In memory only the account's own budget can be found by name; the
   * ones per (account, address) expire within their window.
   */
  async forget(canonicalEmail: string): Promise<void> {
    const account = hashed(canonicalEmail)
    await Promise.all([this.account.delete(account), this.known.forget(knownPrefix(account))])
    if (this.redis) await deleteKeysStartingWith(this.redis, `${limiterPrefix('account-address')}:${account}:`)
  }
}

type Step = [RateLimiterAbstract, string]

async function giveBack(taken: Step[]): Promise<void> {
  await Promise.all(taken.map(([budget, key]) => budget.reward(key).catch(() => {})))
}

/**
 * The time until an attempt can pass: the refusing budget's window, or a later budget's if that one
 * is spent too and ends later (a Retry-After that ends before it would only earn another 429).
 */
async function timeLeft(refusal: RateLimiterRes, later: Step[]): Promise<number> {
  const spent = await Promise.all(
    later.map(([budget, key]) =>
      budget.get(key).then(
        (state) => (state && state.remainingPoints === 0 && state.msBeforeNext > 0 ? state.msBeforeNext : 0),
        () => 0,
      ),
    ),
  )
  return Math.max(refusal.msBeforeNext, ...spent)
}
