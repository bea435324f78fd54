/**
 * `npm test`: prepares the migrated templates once, then runs every test file in parallel
 * with node:test. Each file clones its own database from a template:
 *  - PGlite: a data-dir dump of a migrated instance (always); tests that need a DATA_DIR copy
 *    the same dump unpacked as a directory;
 *  - server: `CREATE DATABASE … TEMPLATE` of a database migrated once (when TEST_DATABASE_URL is set).
 */
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { PGlite } from '@electric-sql/pglite'
import postgres from 'postgres'
import { migrate, type Database } from '../src/db/index.js'
import { secureDataDir } from '../src/db/data-dir.js'
import { wrapPglite } from '../src/db/embedded.js'
import { SHARED_BUFFERS_MB, startParams } from '../src/db/pglite-settings.js'
import { openServerDatabase } from '../src/db/server.js'
import { DATA_DIR_TEMPLATE_ENV } from '../test/support/data-dir.js'
import { databaseUrlFor, TEST_DB_PREFIX } from '../test/support/naming.js'
import { undocumentedStatuses } from './check-statuses.js'

const root = path.resolve(import.meta.dirname, '..')
const execFileAsync = promisify(execFile)

async function findTests(dir: string): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(path.join(entry.parentPath, entry.name))
  }
  return found
}

/** `tarball` (a PGlite data-dir dump) unpacked as `dir/pgdata`: the DATA_DIR a first start would have left. */
async function unpackDataDir(tarball: string, dir: string): Promise<string> {
  const pgdata = path.join(dir, 'pgdata')
  await mkdir(pgdata, { recursive: true })
  await execFileAsync('tar', ['-xf', tarball, '-C', pgdata])
  await secureDataDir(dir)
  return dir
}

/**
 * One initialisation (initdb in WebAssembly costs about 10 s of CPU) serves every test file: a dump
 * of a migrated instance for in-memory databases, and the same dumps, before and after migrating,
 * unpacked as data directories for tests that need a DATA_DIR (test/support/data-dir.ts copies them).
 */
async function pgliteTemplates(dir: string): Promise<{ env: Record<string, string>; db: Database }> {
  const pg = new PGlite({ startParams: startParams(SHARED_BUFFERS_MB.min) })
  // A dump asked for before the instance is ready never settles.
  await pg.waitReady
  const db = wrapPglite(pg)
  const blank = path.join(dir, 'pglite-blank.tar')
  await writeFile(blank, Buffer.from(await (await pg.dumpDataDir('none')).arrayBuffer()))
  await migrate(db)
  const migrated = path.join(dir, 'pglite-template.tar')
  await writeFile(migrated, Buffer.from(await (await pg.dumpDataDir('none')).arrayBuffer()))
  return {
    env: {
      MOODLOG_TEST_PGLITE_TEMPLATE: migrated,
      [DATA_DIR_TEMPLATE_ENV.migrated]: await unpackDataDir(migrated, path.join(dir, 'data-dir')),
      [DATA_DIR_TEMPLATE_ENV.blank]: await unpackDataDir(blank, path.join(dir, 'data-dir-blank')),
    },
    // Kept open for the status check at the end, which needs a database to build the app on.
    db,
  }
}

/** Drops what crashed runs left behind (names carry their creation time), then builds this run's template. */
async function serverTemplate(adminUrl: string, runId: string): Promise<string> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    const stale = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like ${TEST_DB_PREFIX + '%'}`
    const cutoff = Date.now() / 1000 - 6 * 3600
    for (const { datname } of stale) {
      const created = Number(datname.split('_')[2])
      if (Number.isFinite(created) && created < cutoff) await admin.unsafe(`drop database if exists "${datname}" with (force)`)
    }
    const template = `${TEST_DB_PREFIX}${runId}_tpl`
    await admin.unsafe(`create database "${template}"`)
    const db = openServerDatabase({ url: databaseUrlFor(adminUrl, template), poolSize: 1, statementTimeoutMs: 60_000 })
    await migrate(db)
    await db.close()
    return template
  } finally {
    await admin.end()
  }
}

/** How long each file took in earlier runs (written after every run; absent on a fresh checkout). */
const DURATIONS_FILE = path.join(root, '.cache', 'test-durations.json')

async function readDurations(file: string): Promise<Record<string, number>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, number>
  } catch {
    return {}
  }
}

/**
 * The run lasts as long as its longest file plus the packing: files that took longest last time
 * start first, and files never timed (new ones) before them, since nothing says they are short.
 */
function longestFirst(files: string[], durations: Record<string, number>): string[] {
  const known = (file: string) => durations[path.relative(root, file)] ?? Infinity
  return [...files].sort((a, b) => known(b) - known(a) || a.localeCompare(b))
}

/** This run's times, a line per file (test/support/file-durations.mjs), as paths relative to the project. */
async function readRunDurations(file: string): Promise<Array<readonly [string, number]>> {
  const text = await readFile(file, 'utf8').catch(() => '')
  const measured: Array<readonly [string, number]> = []
  for (const line of text.split('\n')) {
    try {
      const { file, ms } = JSON.parse(line) as { file: string; ms: number }
      measured.push([path.relative(root, file), ms])
    } catch {
      // A blank or cut-off line (a run that was killed): that file is timed next run.
    }
  }
  return measured
}

/** Prints the slowest files of this run and keeps every file's time for the next run's order. */
async function reportDurations(file: string): Promise<void> {
  const measured = await readRunDurations(file)
  if (measured.length === 0) return
  measured.sort((a, b) => b[1] - a[1])
  console.log(
    `\nslowest test files:\n${measured
      .slice(0, 10)
      .map(([test, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${test}`)
      .join('\n')}`,
  )
  await mkdir(path.dirname(DURATIONS_FILE), { recursive: true })
  const kept = { ...(await readDurations(DURATIONS_FILE)), ...Object.fromEntries(measured) }
  await writeFile(DURATIONS_FILE, JSON.stringify(kept, Object.keys(kept).sort(), 2) + '\n')
}

async function dropRunDatabases(adminUrl: string, runId: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    const mine = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like ${`${TEST_DB_PREFIX}${runId}_%`}`
    for (const { datname } of mine) await admin.unsafe(`drop database if exists "${datname}" with (force)`)
  } finally {
    await admin.end()
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2)
  const files =
    args.length > 0
      ? args.map((f) => path.resolve(f))
      : [...(await findTests(path.join(root, 'src'))), ...(await findTests(path.join(root, 'test')))]
  const ordered = longestFirst(files, await readDurations(DURATIONS_FILE))
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-test-'))
  const runId = `${Math.floor(Date.now() / 1000)}_${process.pid}`
  const adminUrl = process.env.TEST_DATABASE_URL || undefined
  const statusDir = path.join(workDir, 'statuses')
  await mkdir(statusDir)
  const env: NodeJS.ProcessEnv = { ...process.env, MOODLOG_TEST_RUN_ID: runId, MOODLOG_TEST_STATUS_DIR: statusDir }
  let templateDb: Database | undefined
  try {
    const started = Date.now()
    const templates = await pgliteTemplates(workDir)
    templateDb = templates.db
    Object.assign(env, templates.env)
    if (adminUrl) env.MOODLOG_TEST_SERVER_TEMPLATE = await serverTemplate(adminUrl, runId)
    console.log(
      `templates ready in ${Date.now() - started} ms; backends: pglite${adminUrl ? ' + postgres server' : ''}` +
        `${process.env.TEST_REDIS_URL ? '; redis' : ''}; ${ordered.length} test files`,
    )
    const concurrency = Number(process.env.TEST_CONCURRENCY) || Math.max(2, os.availableParallelism() + 1)
    const durationsFile = path.join(workDir, 'durations.ndjson')
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        './test/support/record-statuses.ts',
        '--test',
        `--test-concurrency=${concurrency}`,
        // A test that hangs fails by name after 15 minutes instead of holding the run until CI's
        // own limit; and a file whose tests have all ended exits, even if something it opened
        // still holds the event loop (a file once kept the whole run waiting that way: an
        // embedded database left open after losing its lock). Asynchronous errors a file's last
        // test leaves behind go unreported; those of every other test are still failures.
        '--test-timeout=900000',
        '--test-force-exit',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=./test/support/file-durations.mjs',
        `--test-reporter-destination=${durationsFile}`,
        ...ordered,
      ],
      { stdio: 'inherit', env, cwd: root },
    )
    const code = await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))))
    await reportDurations(durationsFile)
    console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`)
    // The contract: a status an operation sends in the suite is a status its document lists.
    const offenders = await undocumentedStatuses(statusDir, templateDb)
    if (offenders.length > 0) {
      console.error(`\nresponses with a status the OpenAPI document does not list for the operation:\n  ${offenders.join('\n  ')}`)
      return code || 1
    }
    return code
  } finally {
    await templateDb?.close()
    if (adminUrl) await dropRunDatabases(adminUrl, runId).catch((error) => console.error('cleanup failed:', error))
    await rm(workDir, { recursive: true, force: true })
  }
}

process.exitCode = await main()
