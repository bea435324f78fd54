import { PassThrough, Readable } from 'node:stream'
import { failureOf, run } from '../../src/cli.js'

export interface CliResult {
  code: number | string
  /** What the command printed, stdout and stderr interleaved, as a terminal shows it. */
  output: string
}

/**
 * The CLI in this process through its `run()`, answering as its entry point does: a thrown error
 * becomes `moodlog: <message>` and its exit code. Starting a child for each command cost seconds.
 */
export async function cli(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const lines: string[] = []
  const io = { stdin: Readable.from([]), stdout: new PassThrough().resume(), note: (line: string) => lines.push(line) }
  try {
    const code = await run(args, { ...env }, (line) => lines.push(line), io)
    return { code, output: lines.join('\n') }
  } catch (error) {
    const failure = failureOf(error)
    lines.push(`moodlog: ${failure.message}`)
    return { code: failure.exitCode, output: lines.join('\n') }
  }
}
