import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import { tooManyRequests } from '../http/errors.js'
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
 * account stay bounded; per address for one client guessing across many accounts.
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

const hashed = (canonicalEmail: string) => createHash('sha256').update(canonicalEmail).digest('base64url')

export class SignInThrottle {
  private readonly accountAddress: RateLimiterAbstract
  private readonly account: RateLimiterAbstract
  private readonly address: RateLimiterAbstract

  constructor(private readonly redis?: Redis) {
    this.accountAddress = limiter('account-address', SIGN_IN_LIMITS.accountAddress, redis)
    this.account = limiter('account', SIGN_IN_LIMITS.account, redis)
    this.address = limiter('address', SIGN_IN_LIMITS.address, redis)
  }

  /**
   * Takes one attempt from each budget before the password is checked, and throws 429 (with the
   * time actually left) when one is spent. Each take is atomic, so parallel guesses cannot all
   * pass; the budgets are taken in turn and a refusal gives back what was taken, so an attempt that
   * is refused for one (account, address) never counts against the account as a whole.
   */
  async take(canonicalEmail: string, address: string): Promise<Attempt> {
    const account = hashed(canonicalEmail)
    const steps: [RateLimiterAbstract, string][] = [
      [this.accountAddress, `${account}:${address}`],
      [this.address, address],
      [this.account, account],
    ]
    const taken: [RateLimiterAbstract, string][] = []
    for (const [budget, key] of steps) {
      try {
        await budget.consume(key)
      } catch (refusal) {
        await giveBack(taken)
        if (refusal instanceof RateLimiterRes) throw tooManyRequests(refusal.msBeforeNext / 1000, THROTTLED)
        throw refusal
      }
      taken.push([budget, key])
    }
    return { succeeded: () => giveBack(taken) }
  }

  /**
   * Erasure: drops the budgets of a deleted account (the per-address budget is the address's, not
   * the account's). In memory only the account's own budget can be found by name; the ones per
   * (account, address) expire within their window.
   */
  async forget(canonicalEmail: string): Promise<void> {
    const account = hashed(canonicalEmail)
    await this.account.delete(account)
    if (this.redis) await deleteKeysStartingWith(this.redis, `${limiterPrefix('account-address')}:${account}:`)
  }
}

async function giveBack(taken: [RateLimiterAbstract, string][]): Promise<void> {
  await Promise.all(taken.map(([budget, key]) => budget.reward(key).catch(() => {})))
}
