/**
 * export-memory: the deep user's whole journal as NDJSON, read to the end as a client would, while
 * the server's RSS is sampled. Growth is the peak during the export minus the RSS just before it,
 * each round on a freshly started server; the body is counted line by line, so a truncated export
 * fails instead of looking frugal.
 */
import { rssMegabytes, type Service } from './processes.js'
import { median, scenarioResult } from './report.js'
import { GOALS, type Account, type Outcome } from './scenarios.js'
import { DEEP_ENTRIES } from './seed.js'

const SAMPLE_EVERY_MS = 100
const NEWLINE = 0x0a

interface Body {
  bytes: number
  lines: number
  /** The first line, parsed. */
  header: unknown
  endsWithNewline: boolean
}

async function readExport(moodlog: Service, account: Account): Promise<Body> {
  const response = await fetch(`${moodlog.url}/export?format=ndjson`, { headers: { authorization: account.authorization } })
  if (response.status !== 200 || !response.body) throw new Error(`GET /export: ${response.status} ${(await response.text()).slice(0, 300)}`)
  let bytes = 0
  let lines = 0
  let head = ''
  let lastByte = -1
  for await (const chunk of response.body) {
    if (lines === 0) head += Buffer.from(chunk).toString('utf8')
    bytes += chunk.length
    for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) lines += 1
    if (chunk.length > 0) lastByte = chunk[chunk.length - 1]!
  }
  return { bytes, lines, header: JSON.parse(head.slice(0, head.indexOf('\n'))), endsWithNewline: lastByte === NEWLINE }
}

interface Round {
  growthMb: number
  seconds: number
  bytes: number
  entries: number
}

async function exportRound(moodlog: Service, account: Account): Promise<Round> {
  const pid = moodlog.child.pid
  const before = await rssMegabytes(pid)
  if (before === undefined) throw new Error('the server process has no readable /proc/<pid>/status (Linux only)')
  let peak = before
  const sample = () => rssMegabytes(pid).then((mb) => (peak = Math.max(peak, mb ?? 0)))
  const timer = setInterval(() => void sample(), SAMPLE_EVERY_MS)
  const started = performance.now()
  let body: Body
  try {
    body = await readExport(moodlog, account)
  } finally {
    clearInterval(timer)
  }
  const seconds = (performance.now() - started) / 1000
  await sample()
  const header = body.header as { format?: unknown }
  if (header.format !== 'moodlog') throw new Error(`the export's first line is not the NDJSON header: ${JSON.stringify(body.header)}`)
  const expected = 1 + DEEP_ENTRIES
  if (body.lines !== expected || !body.endsWithNewline) {
    throw new Error(
      `the export is incomplete: ${body.lines} lines of ${expected} expected, ${body.bytes} bytes, ends with a newline: ${body.endsWithNewline}`,
    )
  }
  return { growthMb: peak - before, seconds, bytes: body.bytes, entries: body.lines - 1 }
}

const spread = (values: number[], digits: number) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`

export async function exportMemory(start: () => Promise<Service>, deep: Account, rounds: number): Promise<Outcome> {
  const done: Round[] = []
  for (let i = 0; i < rounds; i++) {
    const moodlog = await start()
    try {
      done.push(await exportRound(moodlog, deep))
    } finally {
      await moodlog.stop()
    }
  }
  const growth = done.map((r) => r.growthMb)
  const seconds = done.map((r) => r.seconds)
  const { bytes, entries } = done[0]!
  const note =
    `GET /export?format=ndjson of the deep user, read to the end, CACHE=on, ${rounds} round${rounds === 1 ? '' : 's'} (a fresh process each); ` +
    `VmRSS every ${SAMPLE_EVERY_MS} ms, growth = peak during the export − RSS just before: median (min–max) ${spread(growth, 1)} MB; ` +
    `each export ${(bytes / 1e6).toFixed(1)} MB, ` +
    `${entries.toLocaleString('en')} entries + header (lines counted) in ${spread(seconds, 1)} s`
  return {
    result: scenarioResult('export-memory', median(growth), null, GOALS['export-memory']),
    detail: { id: 'export-memory', unit: 'MB', metric: 'RSS growth', note },
  }
}
