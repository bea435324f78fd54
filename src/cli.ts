#!/usr/bin/env node
/**
 * Operator commands, configured by the same environment as the server:
 *   moodlog migrate up|down|status
 *   moodlog check
 *   moodlog export --user EMAIL [--out FILE] [--format ndjson|csv|markdown] [--tz ZONE]
 *   moodlog import --user EMAIL [--in FILE] [--format moodlog|csv|daylio|jrnl] [options] [--notify]
 *   moodlog db copy --from DATA_DIR|URL --to DATA_DIR|URL [--force]
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { loadConfig, loadEnvFile, type Config } from './config.js'
import {
  DatabaseUnavailableError,
  migrate,
  migrateDown,
  migrationStatus,
  openDatabase,
  type Database,
  type OpenDatabase,
} from './db/index.js'
import { assertSourceDataDir, copyDatabase, CopyRefusedError } from './db/copy.js'
import { openEmbeddedDatabase } from './db/embedded.js'
import { openServerDatabase } from './db/server.js'
import { runTransfer, type TransferIo } from './transfer/commands.js'
import { TransferError } from './transfer/format.js'
import { terminalProgress } from './transfer/progress.js'

const USAGE = `usage: moodlog <command>
  migrate up        apply every pending migration
  migrate down      roll back the newest migration
  migrate status    show the current and latest schema versions
  check             validate the configuration and reach the database
  export --user EMAIL [--out FILE] [--format ndjson|csv|markdown] [--tz ZONE]
                    write the user's journal to FILE (default: stdout); NDJSON by
                    default; Markdown has a section per local day in ZONE (UTC)
  import --user EMAIL [--in FILE] [--format moodlog|csv|daylio|jrnl]
         [--dry-run] [--skip-invalid] [--tz ZONE] [--mood-map JSON] [--default-mood N]
         [--notify]
                    add the entries of FILE (default: stdin) to the user's journal;
                    all or nothing: an invalid row imports nothing (unless
                    --skip-invalid); entries already there are skipped. The format
                    follows the file name (.csv, .json → jrnl) unless given. Daylio
                    needs --tz, jrnl --default-mood; --mood-map maps Daylio labels;
                    --notify sends an entry.created webhook event per new entry
  db copy --from DATA_DIR|URL --to DATA_DIR|URL [--force]
                    copy every table from one database to another (an embedded
                    DATA_DIR or a postgres:// URL), in one transaction, and verify
                    row counts and checksums; the target must be empty unless
                    --force (which replaces its rows). A --from DATA_DIR must hold
                    a moodlog database (exit 66 otherwise). Stop the servers first`

const isServerUrl = (location: string) => /^postgres(ql)?:\/\//i.test(location)

/** A `--from`/`--to` of `db copy`: a Postgres URL, or else the DATA_DIR of an embedded database. */
async function openLocation(location: string, config: Config): Promise<Database> {
  if (isServerUrl(location)) {
    return openServerDatabase({
      url: location,
      poolSize: 2,
      // One long transaction reads or writes everything; its statements are bounded by size, not time.
      statementTimeoutMs: 0,
      connectTimeoutMs: config.databaseConnectTimeoutSeconds * 1000,
      acquireTimeoutMs: 60_000,
    })
  }
  return openEmbeddedDatabase(path.resolve(location))
}

const sameLocation = (a: string, b: string) => (/^postgres/i.test(a) ? a === b : path.resolve(a) === path.resolve(b))

async function runCopy(args: string[], config: Config, out: (line: string) => void): Promise<number> {
  const { values } = parseArgs({ args, options: { from: { type: 'string' }, to: { type: 'string' }, force: { type: 'boolean' } } })
  if (!values.from || !values.to) {
    out('usage: moodlog db copy --from DATA_DIR|URL --to DATA_DIR|URL [--force]')
    return 64
  }
  if (sameLocation(values.from, values.to)) throw new CopyRefusedError('--from and --to are the same database')
  if (!isServerUrl(values.from)) await assertSourceDataDir(path.resolve(values.from))
  const source = await openLocation(values.from, config)
  try {
    const target = await openLocation(values.to, config)
    try {
      const report = await copyDatabase(source, target, { force: values.force })
      const width = Math.max(...report.tables.map((t) => t.table.length))
      for (const { table, rows, checksum } of report.tables)
        out(`${table.padEnd(width)}  ${String(rows).padStart(9)} rows  checksum ${checksum}`)
      out(`copied ${report.tables.length} tables at schema version ${report.schemaVersion}; row counts and checksums match the source`)
      return 0
    } finally {
      await target.close()
    }
  } finally {
    await source.close()
  }
}

async function withDatabase<T>(open: OpenDatabase, config: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await open(config)
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

function describeTarget(config: Config): string {
  if (config.databaseUrl === undefined) return `embedded database in ${config.dataDir}`
  const url = new URL(config.databaseUrl)
  return `postgres server ${url.hostname}:${url.port || 5432}${url.pathname}`
}

const processIo: TransferIo = {
  stdin: process.stdin,
  stdout: process.stdout,
  note: (line) => console.error(line),
  // A progress bar only for a person watching a terminal; never in pipes, logs or CI.
  progress: process.stderr.isTTY ? terminalProgress(process.stderr) : undefined,
}

/**
 * Runs one command and returns its exit code. `open` is how a command reaches the database the
 * configuration names (`db copy` opens its own two); tests of what a command does with a database
 * hand in one they hold open, because opening a data directory costs a second each time.
 */
export async function run(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  io = processIo,
  open: OpenDatabase = openDatabase,
): Promise<number> {
  const [command, sub] = args
  const config = loadConfig(env)
  if (command === 'export' || command === 'import') return runTransfer(command, args.slice(1), config, io, open)
  if (command === 'db' && sub === 'copy') return runCopy(args.slice(2), config, out)
  if (command === 'migrate' && (sub === 'up' || sub === undefined)) {
    const result = await withDatabase(open, config, (db) => migrate(db))
    out(
      result.applied.length === 0
        ? `already at version ${result.to}`
        : `migrated ${result.from} → ${result.to}: ${result.applied.map((f) => f.split('/').pop()).join(', ')}`,
    )
    return 0
  }
  if (command === 'migrate' && sub === 'down') {
    const result = await withDatabase(open, config, (db) => migrateDown(db))
    out(result.from === result.to ? 'nothing to roll back' : `rolled back ${result.from} → ${result.to}`)
    return 0
  }
  if (command === 'migrate' && sub === 'status') {
    const status = await withDatabase(open, config, (db) => migrationStatus(db))
    out(`current version ${status.current}, latest ${status.latest}`)
    out(status.pending.length === 0 ? 'up to date' : `pending: ${status.pending.join(', ')}`)
    return 0
  }
  if (command === 'check') {
    out(`configuration ok; ${describeTarget(config)}`)
    const status = await withDatabase(open, config, async (db) => {
      await db.ping()
      return migrationStatus(db)
    })
    out(
      `database reachable; schema version ${status.current} of ${status.latest}${status.pending.length ? ' (run `moodlog migrate up`)' : ''}`,
    )
    return status.pending.length === 0 ? 0 : 2
  }
  out(USAGE)
  return 64
}

/**
 * What the operator is told when a command throws, and the exit code it ends with. Configuration,
 * lock, copy and transfer errors say it in their own message; an unreachable database is named.
 */
export function failureOf(error: unknown): { message: string; exitCode: number } {
  const message =
    error instanceof DatabaseUnavailableError
      ? `cannot reach the database: ${String((error.cause as Error)?.message ?? error.cause)}`
      : error instanceof Error
        ? error.message
        : String(error)
  return { message, exitCode: error instanceof TransferError || error instanceof CopyRefusedError ? error.exitCode : 1 }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    loadEnvFile()
    process.exitCode = await run(process.argv.slice(2), process.env, (line) => console.log(line))
  } catch (error) {
    const failure = failureOf(error)
    console.error(`moodlog: ${failure.message}`)
    process.exitCode = failure.exitCode
  }
}
