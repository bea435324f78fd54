import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CircuitBreaker } from './breaker.js'
import { DatabaseUnavailableError } from './errors.js'

/** A probe the test answers by hand: each call waits until the test says how it went. */
function controlledProbe() {
  const calls: Array<(ok: boolean) => void> = []
  let notify: (() => void) | undefined
  return {
    probe: () =>
      new Promise<void>((resolve, reject) => {
        calls.push((ok) => (ok ? resolve() : reject(new Error('still down'))))
        notify?.()
      }),
    async next(): Promise<(ok: boolean) => void> {
      while (calls.length === 0) await new Promise<void>((resolve) => (notify = resolve))
      return calls.shift()!
    },
  }
}

test('when connections fail in a row, then the breaker opens at the threshold and the first good probe closes it', async () => {
  const probe = controlledProbe()
  const breaker = new CircuitBreaker({ threshold: 3, probeIntervalMs: 1, probe: probe.probe })
  // The probe timer is unref'd (it must not keep a server alive): hold the test process open meanwhile.
  const keepAlive = setInterval(() => {}, 1000)
  try {
    breaker.failed()
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    breaker.failed()
    assert.equal(breaker.isOpen, false, 'a success in between resets the count')
    breaker.check()
    breaker.failed()
    assert.equal(breaker.isOpen, true)
    assert.throws(() => breaker.check(), DatabaseUnavailableError)

    ;(await probe.next())(false)
    ;(await probe.next())(false)
    assert.equal(breaker.isOpen, true, 'failed probes keep it open')
    ;(await probe.next())(true)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(breaker.isOpen, false)
    breaker.check()
  } finally {
    clearInterval(keepAlive)
    breaker.stop()
  }
})
