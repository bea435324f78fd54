// The benchmark's pure parts (medians, ratios, goals, validity, the table), so the harness cannot
// rot unnoticed. The benchmark itself never runs here: it needs minutes and a quiet machine.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { driveSequential, quantile } from '../bench/load.js'
import {
  fastestSide,
  formatTable,
  goalMet,
  invalidSide,
  median,
  ratio,
  scenarioResult,
  type Results,
  type SideSummary,
} from '../bench/report.js'

const side = (overrides: Partial<SideSummary> = {}): SideSummary => ({
  label: 'moodlog',
  rps: 100,
  p50: 10,
  p99: 50,
  requests: 1000,
  emptyRounds: 0,
  failures: 0,
  failed: {},
  rounds: 3,
  ...overrides,
})

describe('benchmark report', () => {
  it('when rounds disagree, then the median is quoted', () => {
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 3, 2]), 2.5)
    assert.ok(Number.isNaN(median([])))
  })

  it('when the baseline is zero or missing, then there is no ratio', () => {
    assert.equal(ratio(50, 100), 0.5)
    assert.equal(ratio(50, 0), null)
    assert.equal(ratio(null, 100), null)
  })

  it('when a goal is a floor or a ceiling, then met follows its direction', () => {
    assert.equal(goalMet({ kind: 'min', value: 0.75 }, 0.8), true)
    assert.equal(goalMet({ kind: 'min', value: 0.75 }, 0.7), false)
    assert.equal(goalMet({ kind: 'max', value: 1.5 }, 1.2), true)
    assert.equal(goalMet({ kind: 'max', value: 1.5 }, 2), false)
    assert.equal(goalMet({ kind: 'report' }, 3), null)
    assert.equal(goalMet({ kind: 'min', value: 0.75 }, null), false)
  })

  it('when a scenario is summarised, then its row has the shape of latest.json', () => {
    assert.deepEqual(scenarioResult('list-nocache', 812.34, 1000, { kind: 'min', value: 0.75 }), {
      id: 'list-nocache',
      value: 812.34,
      baseline: 1000,
      ratio: 0.812,
      goal: '>= 0.75',
      met: true,
    })
  })

  it('when several baseline setups ran in the same rounds, then the fastest valid one is the baseline', () => {
    const setups = [side({ rps: 900 }), side({ rps: 1500, failures: 50, failed: { errors: 50 } }), side({ rps: 1200 }), side({ rps: 1100 })]
    assert.equal(fastestSide(setups), 2)
    assert.equal(fastestSide([side({ rps: 10, requests: 0 }), side({ rps: 20, requests: 0 })]), 0)
  })

  it('when more than 1% of requests failed or a round finished none, then the side is invalid', () => {
    assert.equal(invalidSide(side()), undefined)
    assert.equal(invalidSide(side({ failures: 10 })), undefined)
    assert.match(invalidSide(side({ failures: 11, failed: { '500': 11 } })) ?? '', /11 of 1000 requests failed \(11× 500\)/)
    assert.match(invalidSide(side({ emptyRounds: 1 })) ?? '', /1 of 3 rounds completed no request/)
    assert.match(invalidSide(side({ requests: 0 })) ?? '', /no request completed/)
  })

  it('when a goal is missed, then the table says so', () => {
    const results: Results = {
      date: '2026-01-01T00:00:00.000Z',
      machine: { cpu: 'cpu', cores: 2, node: 'v20', postgres: '15' },
      scenarios: [scenarioResult('get-one', 300, 1000, { kind: 'min', value: 0.75 }), scenarioResult('rss', 150, null, { kind: 'report' })],
    }
    const table = formatTable(results, [
      {
        id: 'get-one',
        unit: 'req/s',
        metric: 'req/s',
        a: side({ rps: 300, rpsRange: [280, 320] }),
        b: side({ label: 'bare', rps: 1000, rpsRange: [950, 1020] }),
      },
    ])
    assert.match(table, /\| get-one .*\| MISSED /)
    assert.match(table, /\| 300\.0 \(280–320\) \| 1000\.0 \(950–1020\) \|/)
    assert.match(table, /\| rss .*\| report /)
  })

  it('when latencies are summarised, then quantiles are nearest-rank', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert.equal(quantile(sorted, 0.5), 5)
    assert.equal(quantile(sorted, 0.99), 10)
    assert.equal(quantile([0.4], 0.5), 0.4)
    assert.equal(quantile([], 0.5), 0)
  })

  it('when one connection drives a loopback server, then every answer is counted and timed in fractions of a ms', async (t) => {
    let served = 0
    const server = http.createServer((req, res) => {
      served++
      res.writeHead(req.url === '/fail' ? 500 : 200).end('{}')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => server.close())
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const sample = await driveSequential(
      { url, requests: [{ path: '/ok' }, { path: '/ok' }, { path: '/fail' }], connections: 1, amount: 30 },
      0,
    )
    assert.equal(served, 30)
    assert.equal(sample.requests, 30)
    assert.equal(sample.failures, 10)
    assert.deepEqual(sample.failed, { '500': 10 })
    assert.ok(sample.p50 > 0 && sample.p50 <= sample.p99, `p50 ${sample.p50}, p99 ${sample.p99}`)
    assert.notEqual(sample.p50, Math.round(sample.p50), 'a latency with a fraction of a millisecond')
  })
})
