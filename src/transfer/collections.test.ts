import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { collections, startCollection } from './collections.js'

/** A clock the test moves, and a measureMemory that counts its calls. */
function fakes() {
  let time = 0
  const calls: unknown[] = []
  return {
    clock: { now: () => time, advance: (ms: number) => (time += ms) },
    calls,
    measureMemory: async (options: { execution: 'eager' }) => void calls.push(options),
  }
}

describe('started garbage collections', () => {
  test('when many exports ask within a second, then one collection is started, and the next once a second has passed', () => {
    const { clock, calls, measureMemory } = fakes()
    const start = collections({ measureMemory, now: clock.now })
    assert.equal(start(), true)
    assert.deepEqual(calls, [{ execution: 'eager' }])
    for (let i = 0; i < 10; i++) {
      clock.advance(99)
      assert.equal(start(), false)
    }
    assert.equal(calls.length, 1)
    clock.advance(9)
    assert.equal(start(), false, '999 ms after the first')
    clock.advance(1)
    assert.equal(start(), true, '1000 ms after the first')
    assert.equal(calls.length, 2)
    assert.equal(start(), false)
  })

  test('when the runtime has no vm.measureMemory, then asking starts nothing and fails nothing', () => {
    const start = collections({ measureMemory: null, now: () => 0 })
    assert.equal(start(), false)
    assert.equal(start(), false)
  })

  test('when vm.measureMemory refuses the call or its promise fails, then the caller carries on', async () => {
    const { clock } = fakes()
    const throwing = collections({
      measureMemory: () => {
        throw new Error('not here')
      },
      now: clock.now,
    })
    assert.equal(throwing(), true)
    let rejected = false
    const rejecting = collections({
      measureMemory: () => {
        rejected = true
        return Promise.reject(new Error('no'))
      },
      now: clock.now,
    })
    assert.equal(rejecting(), true)
    assert.ok(rejected)
    // An unhandled rejection would fail the test file once the loop turns.
    await new Promise((resolve) => setImmediate(resolve))
  })

  test('when the process-wide starter is asked twice in a row, then it starts the first (Node 20 has vm.measureMemory) and not the second', () => {
    assert.deepEqual([startCollection(), startCollection()], [true, false])
  })
})
