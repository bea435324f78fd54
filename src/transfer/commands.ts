import { createWriteStream } from 'node:fs'
import { open, rename, rm } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { Readable, type Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { findUserByEmail } from '../auth/queries.js'
import type { Config } from '../config.js'
import { openDatabase, type Database } from '../db/index.js'
import { exportChunks, type ExportFormat } from './export.js'
import { TransferError } from './format.js'
import { importEntries } from './import.js'

export interface TransferIo {
  stdin: Readable
  stdout: Writable
  /** Messages; kept off stdout, which may be carrying the export. */
  note: (line: string) => void
}

async function userIdOf(db: Database, email: string): Promise<number> {
  const user = await findUserByEmail(db, email)
  if (!user) throw new TransferError(`no user with email ${email} (register the account first)`)
  return user.id
}

/** Writes the export to `out` (left open: it may be stdout); resolves with the number of entries. */
async function exportEntries(db: Database, userId: number, out: Writable, format: ExportFormat = 'ndjson', tz = 'UTC'): Promise<number> {
  let count = 0
  const chunks = exportChunks(db, userId, { format, tz, exportedAt: new Date(), onProgress: (n) => (count = n) })
  await pipeline(Readable.from(chunks, { objectMode: false }), out, { end: false })
  return count
}

/** Export into `file` through a temporary name: an interrupted export never looks complete. */
async function exportToFile(db: Database, userId: number, file: string): Promise<number> {
  const partial = `${file}.partial-${process.pid}`
  // Journal entries are private: the file is readable by its owner only.
  const out = createWriteStream(partial, { mode: 0o600 })
  try {
    const count = await exportEntries(db, userId, out)
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())))
    await rename(partial, file)
    return count
  } catch (error) {
    out.destroy()
    await rm(partial, { force: true })
    throw error
  }
}

/** `export --user EMAIL [--out FILE]` and `import --user EMAIL [--in FILE]`; returns the exit code. */
export async function runTransfer(command: 'export' | 'import', args: string[], config: Config, io: TransferIo): Promise<number> {
  const usage = (problem: string) => {
    io.note(`moodlog ${command}: ${problem}`)
    return 64
  }
  let values: { user?: string; out?: string; in?: string }
  try {
    const options = { user: { type: 'string' }, out: { type: 'string' }, in: { type: 'string' } } as const
    ;({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }))
  } catch (error) {
    return usage((error as Error).message)
  }
  if (!values.user) return usage('--user EMAIL is required')
  if (command === 'export' && values.in !== undefined) return usage('--in is an import option (export writes with --out)')
  if (command === 'import' && values.out !== undefined) return usage('--out is an export option (import reads with --in)')

  const db = await openDatabase(config)
  try {
    const userId = await userIdOf(db, values.user)
    if (command === 'export') {
      const count = values.out ? await exportToFile(db, userId, values.out) : await exportEntries(db, userId, io.stdout)
      io.note(`exported ${count} entries of ${values.user}${values.out ? ` to ${values.out}` : ''}`)
    } else {
      // Opened first, so a missing file is a plain error rather than a stream error with no listener yet.
      const input = values.in ? (await open(values.in, 'r')).createReadStream() : io.stdin
      try {
        const count = await importEntries(db, userId, input)
        io.note(`imported ${count} entries for ${values.user}`)
      } finally {
        if (input !== io.stdin) input.destroy()
      }
    }
    return 0
  } finally {
    await db.close()
  }
}
