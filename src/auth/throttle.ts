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
  /** `userId`: the account the password opened (its address is learnt for it). */
  succeeded(userId: number): Promise<void>
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

/**
 * Known addresses per account: the most recently signed in from are kept, so addresses one
 * person signs in from cannot push out another account's. Ten covers home, work, a phone's
 * networks and travel; an account that signs in from more forgets its oldest.
 */
export const KNOWN_ADDRESSES_PER_ACCOUNT = 10

/**
 * Accounts whose known addresses one instance keeps in memory at most (without Redis, or during an
 * outage): at most 10 addresses each, some 150 bytes apiece, so about 15 MB. The accounts least
 * recently signed in to go first, whole: pushing one out takes sign-ins to 10,000 other accounts.
 */
export const KNOWN_ACCOUNTS_IN_MEMORY = 10_000

/** How soon a write-back of known addresses that failed on the database is tried again. */
const SAVE_RETRY_MS = 30_000

/** One Redis sorted set per account: the address hashes, scored by their last correct password (ms). */
const knownKey = (account: string) => `signin:known:${account}`
/** Where known pairs lived before they were kept per account (one key each): erasure deletes those too. */
const legacyKnownPrefix = (account: string) => `signin:known:${account}:`

/**
 * Adds or refreshes one address, drops those past 30 days and all but the most recent ones, in one
 * atomic step. A sign-in now (ARGV[5] 'now') is scored after every other, even within one
 * millisecond, so the one dropped is always the oldest.
 */
const REMEMBER_SCRIPT = `
local at = tonumber(ARGV[1])
if ARGV[5] == 'now' then
  local latest = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
  if latest and tonumber(latest) >= at then at = tonumber(latest) + 1 end
end
redis.call('ZADD', KEYS[1], at, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', at - ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -1 - ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
`

/**
 * The (account, address) pairs that have passed a password check: OWASP's known devices ("Slow Down
 * Online Guessing Attacks with Device Cookies") with the address as the device, so a botnet that
 * spends an account's ceiling does not lock the owner out where they signed in before. Only hashes
 * are kept, the last KNOWN_ADDRESSES_PER_ACCOUNT per account. On Redis (shared by every instance)
 * when it is configured; in memory while it is down, as the budgets' insurance limiter does, and
 * written to Redis once it is back, so the other instances learn them too; otherwise in memory. In
 * memory an LRU cache of accounts, not rate-limiter-flexible's store: that store expires each key
 * with a `setTimeout`, and Node fires one longer than about 24.8 days at once.
 */
class KnownPairs {
  /** Per account, its address hashes and when each last passed, oldest first. */
  private readonly memory = new LRUCache<string, Map<string, number>>({
    max: KNOWN_ACCOUNTS_IN_MEMORY,
    ttl: KNOWN_PAIR_MS,
    // An account pushed out of memory has nothing left to write back (so `unsaved` stays as bounded).
    dispose: (_addresses, account, reason) => {
      if (reason === 'evict' || reason === 'expire') this.unsaved.delete(account)
    },
  })
  /**
   * Accounts with addresses learnt in memory while Redis was down, to be written there when it is
   * back, each with the id of its user: an account erased meanwhile has nothing written back.
   */
  private readonly unsaved = new Map<string, number>()
  /** The write-back under way, if any (tests wait for it). */
  private saving: Promise<void> = Promise.resolve()

  constructor(
    private readonly redis: Redis | undefined,
    private readonly userExists: (userId: number) => Promise<boolean> = async () => true,
  ) {
    redis?.on('ready', () => {
      this.saving = this.saving.then(() => this.saveUnsaved())
    })
  }

  /** Resolves once the addresses learnt during an outage have been written back (or could not be). */
  settled(): Promise<void> {
    return this.saving
  }

  /** The Redis client when it can answer now (as `rejectIfRedisNotReady` does for the budgets). */
  private get ready(): Redis | undefined {
    return this.redis?.status === 'ready' ? this.redis : undefined
  }

  async has(account: string, address: string): Promise<boolean> {
    const redis = this.ready
    if (redis) {
      try {
        const since = await redis.zscore(knownKey(account), address)
        if (since !== null && Number(since) > Date.now() - KNOWN_PAIR_MS) return true
        // Not (yet) in Redis: learnt here during an outage and not written back so far, it is known all the same.
        return this.unsaved.has(account) && this.inMemory(account, address)
      } catch {
        // Redis failed mid-command: as for the budgets, memory answers instead.
      }
    }
    return this.inMemory(account, address)
  }

  async remember(account: string, address: string, userId: number): Promise<void> {
    const now = Date.now()
    const redis = this.ready
    if (redis) {
      try {
        await redis.eval(REMEMBER_SCRIPT, 1, knownKey(account), now, address, KNOWN_PAIR_MS, KNOWN_ADDRESSES_PER_ACCOUNT, 'now')
        return
      } catch {
        // Kept in memory below, so this instance still knows the owner.
      }
    }
    this.rememberInMemory(account, address, now)
    if (this.redis) this.unsaved.set(account, userId)
  }

  async forget(account: string): Promise<void> {
    this.memory.delete(account)
    this.unsaved.delete(account)
    if (this.redis)
      await Promise.all([this.redis.unlink(knownKey(account)), deleteKeysStartingWith(this.redis, legacyKnownPrefix(account))])
  }

  private inMemory(account: string, address: string): boolean {
    const since = this.memory.get(account)?.get(address)
    return since !== undefined && since > Date.now() - KNOWN_PAIR_MS
  }

  private rememberInMemory(account: string, address: string, at: number): void {
    const addresses = new Map(this.memory.get(account))
    // Deleted and set again: the most recent comes last, the first is the one to drop.
    addresses.delete(address)
    addresses.set(address, at)
    for (const oldest of addresses.keys()) {
      if (addresses.size <= KNOWN_ADDRESSES_PER_ACCOUNT) break
      addresses.delete(oldest)
    }
    this.memory.set(account, addresses)
  }

  /**
   * Redis is back: writes the addresses learnt meanwhile, each with the time it was learnt, for the
   * accounts that still exist. An account erased while its addresses were being written may have
   * had its key deleted first: checked again afterwards, and the key deleted then.
   */
  private async saveUnsaved(): Promise<void> {
    for (const [account, userId] of [...this.unsaved]) {
      const redis = this.ready
      if (!redis) return
      const addresses = this.memory.get(account)
      try {
        if (!(await this.userExists(userId))) {
          this.memory.delete(account)
          this.unsaved.delete(account)
          continue
        }
        for (const [address, at] of addresses ?? []) {
          await redis.eval(REMEMBER_SCRIPT, 1, knownKey(account), at, address, KNOWN_PAIR_MS, KNOWN_ADDRESSES_PER_ACCOUNT, 'learnt')
        }
        if (!(await this.userExists(userId))) {
          this.memory.delete(account)
          await redis.unlink(knownKey(account))
        }
        // An address learnt while these were written (Redis down again) is still to be written.
        if (this.memory.get(account) === addresses) this.unsaved.delete(account)
      } catch {
        // Redis down again: its next 'ready' tries once more. The database down: Redis may stay up,
        // so a timer tries again.
        if (this.ready) {
          setTimeout(() => {
            this.saving = this.saving.then(() => this.saveUnsaved())
          }, SAVE_RETRY_MS).unref()
        }
        return
      }
    }
  }
}

export class SignInThrottle {
  private readonly accountAddress: RateLimiterAbstract
  private readonly account: RateLimiterAbstract
  private readonly address: RateLimiterAbstract
  private readonly known: KnownPairs

  /** `userExists`: whether an account is still there (erased ones get nothing written back after an outage). */
  constructor(
    private readonly redis?: Redis,
    userExists?: (userId: number) => Promise<boolean>,
  ) {
    this.accountAddress = limiter('account-address', SIGN_IN_LIMITS.accountAddress, redis)
    this.account = limiter('account', SIGN_IN_LIMITS.account, redis)
    this.address = limiter('address', SIGN_IN_LIMITS.address, redis)
    this.known = new KnownPairs(redis, userExists)
  }

  /** Resolves once the known addresses learnt during a Redis outage have been written back. */
  settled(): Promise<void> {
    return this.known.settled()
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
    const knownAddress = hashed(client)
    // The address first: once it is spent, a flood of attempts at ever new accounts is refused
    // before anything is stored per account.
    const steps: Step[] = [
      [this.address, client],
      [this.accountAddress, `${account}:${client}`],
    ]
    if (!(await this.known.has(account, knownAddress))) steps.push([this.account, account])
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
      succeeded: async (userId) => {
        await Promise.all([giveBack(taken), this.known.remember(account, knownAddress, userId)])
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
    await Promise.all([this.account.delete(account), this.known.forget(account)])
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
