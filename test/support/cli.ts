import { PassThrough, Readable } from 'node:stream'
import { failureOf, run } from '../../src/cli.js'
import type { Database } from '../../src/db/index.js'

export interface CliResult {
  code: number | string
  /** What the command printed, stdout and stderr interleaved, as a terminal shows it. */
  output: string
}

export interface CliOptions {
  /**
   * The database the command works on, held open by the test: the command's close() leaves it
   * open. Without it, the command opens what `env` names, as the real entry point does.
   */
  database?: Database
}

/**
 * The environment of a command handed a database: it names one that cannot be reached (nothing
 * listens on port 1), so a command that opened what its configuration names instead would fail at
 * once, rather than reach the developer's own ./data (the default DATA_DIR).
 */
export const NOWHERE = { JWT_SECRET: 'x'.repeat(40), DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', DB_CONNECT_TIMEOUT_SECONDS: '1' }

/** `db` as a command sees it, except that closing it is left to its owner. */
export function borrowed(db: Database): Database {
  return Object.create(db, { close: { value: async () => {} } }) as Database
}

/**
 * The CLI in this process through its `run()`, answering as its entry point does: a thrown error
 * becomes `moodlog: <message>` and its exit code. Starting a child for each command cost seconds.
 */
export async function cli(args: string[], env: Record<string, string | undefined>, options: CliOptions = {}): Promise<CliResult> {
  const lines: string[] = []
  const io = { stdin: Readable.from([]), stdout: new PassThrough().resume(), note: (line: string) => lines.push(line) }
  const open = options.database ? async () => borrowed(options.database!) : undefined
  try {
    const code = await run(args, { ...env }, (line) => lines.push(line), io, open)
    return { code, output: lines.join('\n') }
  } catch (error) {
    const failure = failureOf(error)
    lines.push(`moodlog: ${failure.message}`)
    return { code: failure.exitCode, output: lines.join('\n') }
  }
}
