import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, mock, test } from 'node:test'
import { Redis } from 'ioredis'
import { describeEachBackend, type Harness } from '../../test/support/harness.js'
import { signIn, signUp, uniqueEmail } from '../../test/support/users.js'
import type { HttpError } from '../http/errors.js'
import { canonicalEmail } from './email.js'
import { KNOWN_ACCOUNTS_IN_MEMORY, KNOWN_ADDRESSES_PER_ACCOUNT, SIGN_IN_LIMITS, SignInThrottle } from './throttle.js'

const login = (h: Harness, email: string, password: string, remoteAddress: string) =>
  h.request({ method: 'POST', url: '/login', remoteAddress, payload: { email, password } })

/** Counts the password checks the app actually runs while `fn` does. */
async function countChecks(h: Harness, fn: () => Promise<unknown>): Promise<number> {
  const hasher = h.app.auth.hasher
  const real = hasher.verify
  let checks = 0
  hasher.verify = (...args) => {
    checks += 1
    return real.apply(hasher, args)
  }
  try {
    await fn()
  } finally {
    hasher.verify = real
  }
  return checks
}

/**
 * Spends an account's ceiling as a botnet would, without password checks: 10 IPv6 /56s (10 /64s
 * each, one guess per /64), so that no (account, address) budget refuses first.
 */
async function spendAccountCeiling(throttle: SignInThrottle, email: string): Promise<void> {
  const perAddress = SIGN_IN_LIMITS.accountAddress.points
  for (let i = 0; i < SIGN_IN_LIMITS.account.points; i++) {
    await throttle.take(email, `2001:db8:${Math.floor(i / perAddress) + 1}:${i % perAddress}::1`)
  }
}

/** Password hashing on a loaded machine can take seconds: these tests are not about the request timeout. */
const PATIENT = { REQUEST_TIMEOUT_SECONDS: '300' }

function throttleSuite(store: string, env: Record<string, string>) {
  describeEachBackend(
    `sign-in throttle (${store})`,
    (h) => {
      test('when 60 wrong passwords for one account arrive at once, then at most the limit are checked and the rest get 429', async () => {
        const user = await signUp(h)
        const statuses: number[] = []
        const checks = await countChecks(h, async () => {
          const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => login(h, user.email, `wrong ${i}`, '198.51.100.60')))
          statuses.push(...answers.map((res) => res.statusCode))
        })
        const limit = SIGN_IN_LIMITS.accountAddress.points
        assert.equal(checks, limit, 'passwords checked')
        assert.equal(statuses.filter((s) => s === 401).length, limit)
        assert.equal(statuses.filter((s) => s === 429).length, 60 - limit)
      })

      test('when one address fails 10 times for an account, then it is throttled there, and the owner still signs in from another address', async () => {
        const user = await signUp(h)
        for (let i = 0; i < 10; i++) assert.equal((await login(h, user.email, `wrong ${i}`, '198.51.100.10')).statusCode, 401)
        const throttled = await login(h, user.email, user.password, '198.51.100.10')
        assert.equal(throttled.statusCode, 429)
        assert.equal(throttled.headers['content-type'], 'application/problem+json; charset=utf-8')
        assert.equal(throttled.json().detail, 'Too many failed sign-in attempts; try again later.')
        const retryAfter = Number(throttled.headers['retry-after'])
        assert.ok(retryAfter > 0 && retryAfter <= SIGN_IN_LIMITS.accountAddress.duration, String(retryAfter))
        // An upper-case spelling is the same account: the same budget.
        assert.equal((await login(h, user.email.toUpperCase(), user.password, '198.51.100.10')).statusCode, 429)
        assert.equal((await login(h, user.email, user.password, '198.51.100.11')).statusCode, 200, 'the owner elsewhere')
        // Another account from the throttled address is not affected.
        const other = await signUp(h)
        assert.equal((await login(h, other.email, other.password, '198.51.100.10')).statusCode, 200)
      })

      test('when the owner signs in successfully again and again, then successes never count against the limit', async () => {
        const user = await signUp(h)
        for (let i = 0; i <= SIGN_IN_LIMITS.accountAddress.points; i++) {
          assert.equal((await login(h, user.email, user.password, '198.51.100.12')).statusCode, 200, `sign-in ${i}`)
        }
        assert.equal((await login(h, user.email, 'one wrong guess', '198.51.100.12')).statusCode, 401)
      })

      test('when many /64s spend the account ceiling, then the owner still signs in from an address used before, and nowhere new', async () => {
        const user = await signUp(h)
        const home = '2001:db8:4a:7700::10'
        assert.equal((await login(h, user.email, user.password, home)).statusCode, 200)
        await spendAccountCeiling(h.app.auth.throttle, canonicalEmail(user.email))

        const elsewhere = await login(h, user.email, user.password, '192.0.2.200')
        assert.equal(elsewhere.statusCode, 429, 'the ceiling holds for a new address')
        const retryAfter = Number(elsewhere.headers['retry-after'])
        assert.ok(retryAfter > 0 && retryAfter <= SIGN_IN_LIMITS.account.duration, String(retryAfter))
        assert.equal((await login(h, user.email, user.password, home)).statusCode, 200, 'the owner at home')
        // Another address of the same /56 is the same client.
        assert.equal((await login(h, user.email, user.password, '2001:db8:4a:77ff::1')).statusCode, 200, 'the owner, another /64')
      })

      test('when one IPv6 /64 is throttled, then the other /64s of its /56 are too, and another /56 is not', async () => {
        const user = await signUp(h)
        for (let i = 0; i < 10; i++) assert.equal((await login(h, user.email, `wrong ${i}`, '2001:db8:5:100::1')).statusCode, 401)
        assert.equal((await login(h, user.email, user.password, '2001:db8:5:1ff:abcd::2')).statusCode, 429, 'same /56')
        assert.equal((await login(h, user.email, user.password, '2001:db8:5:200::1')).statusCode, 200, 'next /56')
      })

      test('when the current password is guessed through password change and deletion, then the same throttle holds', async () => {
        const user = await signUp(h)
        const ip = '198.51.100.20'
        const change = (currentPassword: string, remoteAddress = ip) =>
          h.request({
            method: 'PATCH',
            url: '/me/password',
            remoteAddress,
            headers: user.auth,
            payload: { currentPassword, newPassword: 'a brand new passphrase' },
          })
        const remove = (password: string, remoteAddress = ip) =>
          h.request({ method: 'DELETE', url: '/me', remoteAddress, headers: user.auth, payload: { password } })
        for (let i = 0; i < 5; i++) assert.equal((await change(`wrong ${i}`)).statusCode, 403)
        for (let i = 0; i < 5; i++) assert.equal((await remove(`wrong ${i}`)).statusCode, 403)
        // Even the right password is refused now: the guesses cannot go on through these routes.
        for (const [route, res] of [
          ['password change', await change(user.password)],
          ['deletion', await remove(user.password)],
        ] as const) {
          assert.equal(res.statusCode, 429, route)
          assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', route)
          const retryAfter = Number(res.headers['retry-after'])
          const window = SIGN_IN_LIMITS.accountAddress.duration
          assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= window, `${route}: Retry-After ${retryAfter}`)
        }
        assert.equal((await login(h, user.email, user.password, ip)).statusCode, 429, 'sign-in shares the budget')
        assert.equal((await signIn(h, user.email, user.password)).accessToken.length > 0, true, 'from another address')
        assert.equal((await change(user.password, '198.51.100.21')).statusCode, 204)
        assert.equal((await remove('a brand new passphrase', '198.51.100.21')).statusCode, 204)
      })
    },
    { env: { ...PATIENT, ...env } },
  )
}

/** The budgets themselves, without password hashing (which the tests above cover). */
function budgetSuite(store: string, redisUrl: string | undefined) {
  describe(`sign-in budgets (${store})`, () => {
    const redis = redisUrl ? new Redis(redisUrl, { keyPrefix: `moodlog-test-${randomUUID()}:`, enableOfflineQueue: false }) : undefined
    after(() => redis?.disconnect())
    const ready = () => (redis && redis.status !== 'ready' ? new Promise((resolve) => redis.once('ready', resolve)) : Promise.resolve())
    const refused = (error: HttpError) => error.status === 429

    test('when guesses at one account come from many addresses, then the account as a whole stops at its looser ceiling', async () => {
      await ready()
      const throttle = new SignInThrottle(redis)
      const email = uniqueEmail()
      const perAddress = SIGN_IN_LIMITS.accountAddress.points
      for (let i = 0; i < SIGN_IN_LIMITS.account.points; i++) await throttle.take(email, `203.0.113.${Math.floor(i / perAddress) + 1}`)
      await assert.rejects(throttle.take(email, '203.0.113.250'), refused)
      // Refusals by one (account, address) budget never used the account's: another account is fine, too.
      await throttle.take(uniqueEmail(), '203.0.113.250')
    })

    test('when one address guesses across many accounts, then it stops at the per-address ceiling; successes give their attempt back', async () => {
      await ready()
      const throttle = new SignInThrottle(redis)
      const address = '192.0.2.77'
      const owner = uniqueEmail()
      for (let i = 0; i < 30; i++) await (await throttle.take(owner, address)).succeeded(0)
      for (let i = 0; i < SIGN_IN_LIMITS.address.points; i++) await throttle.take(uniqueEmail(), address)
      await assert.rejects(throttle.take(owner, address), refused)
      await throttle.take(owner, '192.0.2.78')
    })

    test('when an address has signed in before, then it passes after the account ceiling is spent, within its own budget', async () => {
      await ready()
      const throttle = new SignInThrottle(redis)
      const email = uniqueEmail()
      await (await throttle.take(email, '198.51.100.80')).succeeded(0)
      await spendAccountCeiling(throttle, email)
      await assert.rejects(throttle.take(email, '198.51.100.81'), refused)
      for (let i = 0; i < SIGN_IN_LIMITS.accountAddress.points; i++) await throttle.take(email, '198.51.100.80')
      await assert.rejects(throttle.take(email, '198.51.100.80'), refused, 'a known address still has its (account, address) budget')
    })

    test('when an account signs in from more addresses than it keeps, then the most recent stay known and the oldest is forgotten', async () => {
      await ready()
      const throttle = new SignInThrottle(redis)
      const email = uniqueEmail()
      const addresses = Array.from({ length: KNOWN_ADDRESSES_PER_ACCOUNT + 1 }, (_, i) => `198.51.100.${150 + i}`)
      for (const address of addresses) await (await throttle.take(email, address)).succeeded(0)
      await spendAccountCeiling(throttle, email)
      await assert.rejects(throttle.take(email, addresses[0]!), refused, 'the oldest address is new again')
      for (const address of addresses.slice(1)) await throttle.take(email, address)
    })

    test('when an IPv4 client is seen as IPv4-mapped IPv6, then both spellings share its budgets', async () => {
      await ready()
      const throttle = new SignInThrottle(redis)
      const email = uniqueEmail()
      for (let i = 0; i < SIGN_IN_LIMITS.accountAddress.points / 2; i++) await throttle.take(email, '::ffff:203.0.113.77')
      for (let i = 0; i < SIGN_IN_LIMITS.accountAddress.points / 2; i++) await throttle.take(email, '::FFFF:cb00:714d')
      await assert.rejects(throttle.take(email, '203.0.113.77'), refused)
      await throttle.take(email, '203.0.113.78')
    })

    test('when the (account, address) budget refuses, then the account budget is not spent by the refused attempts', async () => {
      await ready()
      const throttle = new SignInThrottle(redis)
      const email = uniqueEmail()
      for (let i = 0; i < SIGN_IN_LIMITS.accountAddress.points; i++) await throttle.take(email, '198.51.100.70')
      for (let i = 0; i < 200; i++) await assert.rejects(throttle.take(email, '198.51.100.70'), refused)
      await throttle.take(email, '198.51.100.71')
    })
  })
}

if (process.env.TEST_REDIS_URL) {
  describe('sign-in budgets across instances (Redis)', () => {
    const options = { keyPrefix: `moodlog-test-${randomUUID()}:`, enableOfflineQueue: false }
    const [one, two] = [new Redis(process.env.TEST_REDIS_URL!, options), new Redis(process.env.TEST_REDIS_URL!, options)]
    after(() => [one, two].forEach((redis) => redis.disconnect()))

    test('when the owner signed in through one instance, then another instance knows the address once the ceiling is spent', async () => {
      await Promise.all(
        [one, two].map((redis) => (redis.status === 'ready' ? undefined : new Promise((resolve) => redis.once('ready', resolve)))),
      )
      const [first, second] = [new SignInThrottle(one), new SignInThrottle(two)]
      const email = uniqueEmail()
      await (await first.take(email, '2001:db8:90:100::1')).succeeded(0)
      await spendAccountCeiling(first, email)
      await assert.rejects(second.take(email, '198.51.100.90'), (error: HttpError) => error.status === 429)
      await second.take(email, '2001:db8:90:1ab::7')
    })

    test('when the owner signed in while Redis was down, then the address is written to Redis once it is back, for every instance', async () => {
      // Not connected yet: the throttle finds Redis not ready, as in an outage, and learns in memory.
      const late = new Redis(process.env.TEST_REDIS_URL!, { ...options, lazyConnect: true })
      after(() => late.disconnect())
      const first = new SignInThrottle(late)
      const email = uniqueEmail()
      await (await first.take(email, '198.51.100.95')).succeeded(0)
      const known = async () => (await one.keys(`${options.keyPrefix}signin:known:*`)).length
      const before = await known()
      await late.connect()
      // Written back shortly after the reconnection; waited for with a generous bound.
      for (let i = 0; i < 100 && (await known()) === before; i++) await new Promise((resolve) => setTimeout(resolve, 100))
      const second = new SignInThrottle(two)
      await spendAccountCeiling(second, email)
      await assert.rejects(second.take(email, '198.51.100.96'), (error: HttpError) => error.status === 429)
      await second.take(email, '198.51.100.95')
    })

    test('when an address has spent its budget, then its refused attempts at new accounts store nothing per account', async () => {
      if (one.status !== 'ready') await new Promise((resolve) => one.once('ready', resolve))
      const throttle = new SignInThrottle(one)
      const address = '192.0.2.177'
      for (let i = 0; i < SIGN_IN_LIMITS.address.points; i++) await throttle.take(uniqueEmail(), address)
      // KEYS patterns are not prefixed by the client: the full names are matched.
      const perAccountKeys = async () => (await one.keys(`${options.keyPrefix}signin:account*`)).length
      const before = await perAccountKeys()
      assert.ok(before >= SIGN_IN_LIMITS.address.points, `the attempts that counted stored their keys (${before})`)
      for (let i = 0; i < 50; i++) await assert.rejects(throttle.take(uniqueEmail(), address), (error: HttpError) => error.status === 429)
      assert.equal(await perAccountKeys(), before)
    })
  })
}

describe('known addresses in memory', () => {
  test('when someone signs in to an account of their own from very many addresses, then the owner of another account stays known', async () => {
    const throttle = new SignInThrottle()
    const owner = uniqueEmail()
    await (await throttle.take(owner, '198.51.100.99')).succeeded(0)
    // More sign-ins than any bound on the addresses kept overall: 10 addresses for each account kept.
    const attacker = uniqueEmail()
    for (let i = 0; i <= KNOWN_ACCOUNTS_IN_MEMORY * KNOWN_ADDRESSES_PER_ACCOUNT; i++) {
      await (await throttle.take(attacker, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)).succeeded(0)
    }
    await spendAccountCeiling(throttle, owner)
    await assert.rejects(throttle.take(owner, '198.51.100.98'), (error: HttpError) => error.status === 429)
    await throttle.take(owner, '198.51.100.99')
  })
})

throttleSuite('in-process', {})
budgetSuite('in-process', undefined)
if (process.env.TEST_REDIS_URL) {
  throttleSuite('Redis', { REDIS_URL: process.env.TEST_REDIS_URL, REDIS_KEY_PREFIX: `moodlog-test-${randomUUID()}:` })
  budgetSuite('Redis', process.env.TEST_REDIS_URL)
}

describeEachBackend(
  'sign-in throttle: the time left',
  (h) => {
    test('when an address is throttled, then Retry-After gives the time actually left in its window', async () => {
      const user = await signUp(h)
      mock.timers.enable({ apis: ['Date'], now: Date.now() })
      try {
        for (let i = 0; i < 10; i++) assert.equal((await login(h, user.email, `wrong ${i}`, '198.51.100.30')).statusCode, 401)
        mock.timers.tick(10 * 60 * 1000)
        const throttled = await login(h, user.email, user.password, '198.51.100.30')
        assert.equal(throttled.statusCode, 429)
        const retryAfter = Number(throttled.headers['retry-after'])
        assert.ok(retryAfter > 4 * 60 && retryAfter <= 5 * 60, `Retry-After ${retryAfter}, about 5 minutes expected`)
      } finally {
        mock.timers.reset()
      }
    })

    test('when an address is refused while the account ceiling is spent too, then Retry-After waits for the ceiling', async () => {
      const user = await signUp(h)
      const email = canonicalEmail(user.email)
      const throttle = h.app.auth.throttle
      mock.timers.enable({ apis: ['Date'], now: Date.now() })
      try {
        for (let i = 0; i < 10; i++) await throttle.take(email, '198.51.100.32')
        for (let i = 0; i < 90; i++) await throttle.take(email, `2001:db8:32:${(i % 9) + 1}00::1`) // nine /56s
        mock.timers.tick(10 * 60 * 1000)
        for (const address of ['198.51.100.32', '198.51.100.33']) {
          const throttled = await login(h, user.email, user.password, address)
          assert.equal(throttled.statusCode, 429, address)
          const retryAfter = Number(throttled.headers['retry-after'])
          assert.ok(retryAfter > 49 * 60 && retryAfter <= 50 * 60, `${address}: Retry-After ${retryAfter}, about 50 minutes expected`)
        }
      } finally {
        mock.timers.reset()
      }
    })
  },
  { env: PATIENT },
)

describe('sign-in throttle while Redis is down', () => {
  // Nothing listens on port 1 of the loopback address: every command fails at once.
  const redis = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true })
  redis.on('error', () => {})
  after(() => redis.disconnect())

  test('then the in-memory insurance limiter holds the line instead of letting every guess through', async () => {
    const throttle = new SignInThrottle(redis)
    const email = uniqueEmail()
    for (let i = 0; i < SIGN_IN_LIMITS.accountAddress.points; i++) await throttle.take(email, '198.51.100.40')
    await assert.rejects(throttle.take(email, '198.51.100.40'), (error: HttpError) => error.status === 429)
    await throttle.take(email, '198.51.100.41')
  })

  test('then an address the owner signs in from is known in memory, past the account ceiling', async () => {
    const throttle = new SignInThrottle(redis)
    const email = uniqueEmail()
    await (await throttle.take(email, '198.51.100.42')).succeeded(0)
    await spendAccountCeiling(throttle, email)
    await assert.rejects(throttle.take(email, '198.51.100.43'), (error: HttpError) => error.status === 429)
    await throttle.take(email, '198.51.100.42')
  })
})
