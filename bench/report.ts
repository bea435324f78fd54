/** Pure functions: medians, ratios, goals and the printed table. No I/O here (the smoke test imports this). */

export interface Goal {
  /** `min`: ratio must be at least `value`; `max`: at most; `report`: no goal, reported only. */
  kind: 'min' | 'max' | 'report'
  value?: number
  /** Set when the goal is on the measured value itself, in this unit (e.g. MB), rather than on a ratio. */
  unit?: string
}

export interface ScenarioResult {
  id: string
  value: number | null
  baseline: number | null
  ratio: number | null
  goal: string
  met: boolean | null
}

export interface Results {
  date: string
  machine: { cpu: string; cores: number; node: string; postgres: string }
  scenarios: ScenarioResult[]
}

/** One side of a scenario after its rounds: medians of each measure over the rounds. */
export interface SideSummary {
  label: string
  rps: number
  /** The lowest and highest req/s of the rounds (the spread around `rps`). */
  rpsRange?: [number, number]
  p50: number
  /** The lowest and highest p50 of the rounds (the spread around `p50`). */
  p50Range?: [number, number]
  p99: number
  /** The lowest and highest p99 of the rounds. */
  p99Range?: [number, number]
  /** Requests completed over all rounds. */
  requests: number
  /** Rounds in which no request succeeded (their latency would read 0). */
  emptyRounds: number
  /** Responses that were not 2xx, plus socket errors and timeouts, over all rounds. */
  failures: number
  /** Failures by status (or `errors`, `timeouts`). */
  failed: Record<string, number>
  rounds: number
}

/** More than this share of failed requests on either side makes a measurement invalid. */
export const MAX_FAILURE_SHARE = 0.01

/** Why a side's measurement cannot be trusted, if it cannot. */
export function invalidSide(side: SideSummary): string | undefined {
  if (side.requests > 0 && side.failures / side.requests > MAX_FAILURE_SHARE) {
    const what = Object.entries(side.failed)
      .map(([k, n]) => `${n}× ${k}`)
      .join(', ')
    return `${side.label}: ${side.failures} of ${side.requests} requests failed (${what})`
  }
  if (side.requests === 0) return `${side.label}: no request completed`
  if (side.emptyRounds > 0)
    return `${side.label}: ${side.emptyRounds} of ${side.rounds} rounds completed no request (rounds too short for its latency)`
  return undefined
}

/** Extra lines for the printed table and docs: what was compared, and each side's medians. */
export interface ScenarioDetail {
  id: string
  unit: string
  metric: string
  a?: SideSummary
  b?: SideSummary
  note?: string
}

/**
 * The baseline among several setups measured in the same rounds: the one with the highest median
 * req/s among those whose measurement is valid (the first, when none is, so it is reported invalid).
 */
export function fastestSide(sides: readonly SideSummary[]): number {
  let best = -1
  for (const [i, side] of sides.entries()) {
    if (invalidSide(side) === undefined && (best < 0 || side.rps > sides[best]!.rps)) best = i
  }
  return Math.max(best, 0)
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((x, y) => x - y)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function ratio(value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null || !Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return null
  return value / baseline
}

export function describeGoal(goal: Goal): string {
  if (goal.kind === 'report') return 'report'
  return `${goal.kind === 'min' ? '>=' : '<='} ${goal.value}${goal.unit ? ` ${goal.unit}` : ''}`
}

/** Whether the ratio (the value, for a goal with a unit) meets the goal; null when report-only, false when nothing was measured. */
export function goalMet(goal: Goal, value: number | null): boolean | null {
  if (goal.kind === 'report') return null
  if (value === null || goal.value === undefined) return false
  return goal.kind === 'min' ? value >= goal.value : value <= goal.value
}

function round(value: number | null, digits: number): number | null {
  if (value === null || !Number.isFinite(value)) return null
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

export function scenarioResult(id: string, value: number | null, baseline: number | null, goal: Goal): ScenarioResult {
  const r = ratio(value, baseline)
  return {
    id,
    value: round(value, 2),
    baseline: round(baseline, 2),
    ratio: round(r, 3),
    goal: describeGoal(goal),
    met: goalMet(goal, goal.unit ? value : r),
  }
}

const fmt = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits)

export function verdict(met: boolean | null): string {
  if (met === null) return 'report'
  return met ? 'met' : 'MISSED'
}

/** Latencies under 10 ms (a first page on one connection) keep two decimals, longer ones one. */
const msDigits = (ms: number | null | undefined) => (ms !== null && ms !== undefined && ms < 10 ? 2 : 1)

/** The median of what a scenario measures on one side, with the lowest and highest of its rounds. */
function withSpread(value: number | null, side: SideSummary | undefined, metric: string | undefined): string {
  const range =
    metric === 'req/s' ? side?.rpsRange : metric === 'p50 latency' ? side?.p50Range : metric === 'p99 latency' ? side?.p99Range : undefined
  const digits = metric === 'req/s' ? 0 : msDigits(value)
  if (value === null || !range || side!.rounds < 2) return fmt(value, metric === 'req/s' ? 1 : digits)
  return `${fmt(value, metric === 'req/s' ? 1 : digits)} (${fmt(range[0], digits)}–${fmt(range[1], digits)})`
}

/** A plain-text (and Markdown-compatible) table of the results; values are medians, with the rounds' min–max. */
export function formatTable(results: Results, details: ScenarioDetail[]): string {
  const byId = new Map(details.map((d) => [d.id, d]))
  const header = ['id', 'metric', 'value', 'baseline', 'ratio', 'goal', 'result', 'A req/s · p50 · p99', 'B req/s · p50 · p99']
  const side = (s?: SideSummary) =>
    s
      ? `${fmt(s.rps, 0)} · ${fmt(s.p50, s.p50 < 10 ? 1 : 0)} · ${fmt(s.p99, s.p99 < 10 ? 1 : 0)} ms${s.failures ? ` (${s.failures} failed)` : ''}`
      : ''
  const rows = results.scenarios.map((s) => {
    const d = byId.get(s.id)
    return [
      s.id,
      d ? (d.metric === d.unit ? d.unit : `${d.metric} (${d.unit})`) : '',
      withSpread(s.value, d?.a, d?.metric),
      withSpread(s.baseline, d?.b, d?.metric),
      fmt(s.ratio, 2),
      s.goal,
      verdict(s.met),
      side(d?.a),
      side(d?.b),
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}
