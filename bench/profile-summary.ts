/**
 * `tsx bench/profile-summary.ts <file.cpuprofile> [--from s] [--to s] [--top n]`: where a
 * `--cpu-prof` profile spent its time — self time by function and by package (or moodlog's own
 * files), and inclusive time of moodlog's functions. `--from`/`--to` keep only samples in that
 * window (seconds since the process started; `npm run bench -- --cpu-prof` prints each
 * scenario's window), so start-up does not blur a scenario's steady state.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

/** `node_modules/@scope/name/...` → `@scope/name`; project files → their path from the repo root. */
export function ownerOf(url: string): string {
  if (!url) return '(native/V8)'
  const modules = url.lastIndexOf('node_modules/')
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (url.startsWith('node:')) return url
  const dist = url.match(/\/(dist|src|bench)\/(.*)$/)
  return dist ? `${dist[1]}/${dist[2]}` : url
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string' } },
  })
  const file = positionals[0]
  if (!file) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [--from s] [--to s] [--top n]')
  const top = Number(values.top ?? 25)
  const from = Number(values.from ?? 0) * 1e6
  const to = values.to === undefined ? Infinity : Number(values.to) * 1e6
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

  const self = new Map<number, number>()
  let at = 0
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0
    if (at >= from && at <= to) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const idle = [...self.entries()].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0)
  const busy = total - idle

  const add = (map: Map<string, number>, key: string, t: number) => map.set(key, (map.get(key) ?? 0) + t)
  const byFunction = new Map<string, number>()
  const byOwner = new Map<string, number>()
  const inclusiveOwn = new Map<string, number>()
  for (const [id, t] of self) {
    const frame = byId.get(id)!.callFrame
    if (frame.functionName === '(idle)') continue
    add(byFunction, `${frame.functionName || '(anonymous)'} ${ownerOf(frame.url)}:${frame.lineNumber + 1}`, t)
    add(byOwner, ownerOf(frame.url), t)
    // Inclusive time of project functions: walk up the stack once per distinct frame.
    const seen = new Set<string>()
    for (let frame: number | undefined = id; frame !== undefined; frame = parent.get(frame)) {
      const f = byId.get(frame)!.callFrame
      const owner = ownerOf(f.url)
      if (!owner.startsWith('dist/') && !owner.startsWith('src/')) continue
      const key = `${f.functionName || '(anonymous)'} ${owner}:${f.lineNumber + 1}`
      if (!seen.has(key)) {
        seen.add(key)
        add(inclusiveOwn, key, t)
      }
    }
  }
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`
  const print = (title: string, map: Map<string, number>) => {
    console.log(`\n${title}`)
    for (const [key, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(t)}  ${key}`)
  }
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)`)
  print('self time by package / file', byOwner)
  print('self time by function', byFunction)
  print("inclusive time of moodlog's own functions", inclusiveOwn)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
