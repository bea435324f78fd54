/** Keeps the results block of docs/PERFORMANCE.md in step with the latest full run. */
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ROOT } from './processes.js'
import { formatTable, type Results, type ScenarioDetail } from './report.js'

const START = '<!-- bench:results:start -->'
const END = '<!-- bench:results:end -->'

export function resultsBlock(
  results: Results,
  details: ScenarioDetail[],
  extra: { baselineDriver?: string; totalSeconds: number; load?: string },
): string {
  const missed = results.scenarios.filter((s) => s.met === false).map((s) => `\`${s.id}\``)
  const notes = details.filter((d) => d.note).map((d) => `- \`${d.id}\`: ${d.note}`)
  return [
    START,
    `Latest full run: **${results.date.slice(0, 16).replace('T', ' ')} UTC** — ${results.machine.cpu}, ${results.machine.cores} cores, ` +
      `Node ${results.machine.node}, PostgreSQL ${results.machine.postgres}; ${extra.totalSeconds.toFixed(0)} s` +
      `${extra.load ? ` (${extra.load})` : ''}.` +
      (extra.baselineDriver ? ` Fastest bare setups (the baselines): ${extra.baselineDriver}.` : ''),
    '',
    `Goals missed: ${missed.length > 0 ? `**${missed.join(', ')}**` : 'none'}. Values are medians over the rounds; A is moodlog, B its baseline.`,
    '',
    formatTable(results, details),
    '',
    ...notes,
    END,
  ].join('\n')
}

/** Rewrites the marked block; returns the file's relative path, or undefined when it has no markers. */
export async function updatePerformanceDoc(
  results: Results,
  details: ScenarioDetail[],
  extra: { baselineDriver?: string; totalSeconds: number; load?: string },
): Promise<string | undefined> {
  const file = path.join(ROOT, 'docs/PERFORMANCE.md')
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return undefined
  }
  const from = text.indexOf(START)
  const to = text.indexOf(END)
  if (from < 0 || to < from) return undefined
  await writeFile(file, text.slice(0, from) + resultsBlock(results, details, extra) + text.slice(to + END.length))
  return path.relative(ROOT, file)
}
