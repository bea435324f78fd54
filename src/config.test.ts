import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig } from './config.js'

/** The error `loadConfig(env)` stops start with; fails the test when it returns instead. */
function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    return error
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`)
}

// test/server-process.test.ts shows once that such an error stops the real process with exit code 1.
describe('configuration', () => {
  for (const [name, value, expected] of [
    ['PORT', 'abc', /^PORT must be a whole number, got "abc"$/],
    ['DATABASE_URL', 'not a url', /^DATABASE_URL is not a valid URL/],
    ['DATABASE_URL', 'mysql://localhost/x', /^DATABASE_URL must start with postgres:/],
    ['LOG_LEVEL', 'loud', /^LOG_LEVEL must be one of/],
    ['MIGRATE_ON_START', 'maybe', /^MIGRATE_ON_START must be true or false/],
    ['IMPORT_MIN_BYTES_PER_SECOND', '0', /^IMPORT_MIN_BYTES_PER_SECOND must be/],
  ] as const) {
    test(`when ${name}=${value}, then start is refused with a message naming ${name}`, () => {
      const error = refusal({ [name]: value, JWT_SECRET: 'x'.repeat(40) })
      assert.equal(error.variable, name)
      assert.match(error.message, expected)
    })
  }

  test('when IMPORT_MIN_BYTES_PER_SECOND is unset, then an import upload must average 16 KiB/s', () => {
    assert.equal(loadConfig({}).importMinBytesPerSecond, 16 * 1024)
    assert.equal(loadConfig({ IMPORT_MIN_BYTES_PER_SECOND: '1024' }).importMinBytesPerSecond, 1024)
  })

  test('when DATABASE_URL is set without JWT_SECRET, then start is refused naming JWT_SECRET', () => {
    const error = refusal({ DATABASE_URL: 'postgres://127.0.0.1:1/x' })
    assert.equal(error.variable, 'JWT_SECRET')
    assert.match(error.message, /^JWT_SECRET is required when DATABASE_URL is set/)
  })
})
