/**
 * `npm test`: prepares the migrated templates once, then runs every test file in parallel
 * with node:test. Each file clones its own database from a template:
 *  - PGlite: a data-dir dump of a migrated instance (always);
 *  - server: `CREATE DATABASE … TEMPLATE` of a database migrated once (when TEST_DATABASE_URL is set).
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import postgres from 'postgres'
import { migrate } from '../src/db/index.js'
import { wrapPglite } from '../src/db/embedded.js'
import { openServerDatabase } from '../src/db/server.js'
import { databaseUrlFor, TEST_DB_PREFIX } from '../test/support/naming.js'
import { undocumentedStatuses } from './check-statuses.js'

const root = path.resolve(import.meta.dirname, '..')

async function findTests(dir: string): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(path.join(entry.parentPath, entry.name))
  }
  return found
}

async function pgliteTemplate(dir: string): Promise<string> {
  const pg = new PGlite()
  const db = wrapPglite(pg)
  await migrate(db)
  const dump = await pg.dumpDataDir('none')
  const file = path.join(dir, 'pglite-template.tar')
  await writeFile(file, Buffer.from(await dump.arrayBuffer()))
  await pg.close()
  return file
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
  files.sort()
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-test-'))
  const runId = `${Math.floor(Date.now() / 1000)}_${process.pid}`
  const adminUrl = process.env.TEST_DATABASE_URL || undefined
  const statusDir = path.join(workDir, 'statuses')
  await mkdir(statusDir)
  const env: NodeJS.ProcessEnv = { ...process.env, MOODLOG_TEST_RUN_ID: runId, MOODLOG_TEST_STATUS_DIR: statusDir }
  try {
    const started = Date.now()
    env.MOODLOG_TEST_PGLITE_TEMPLATE = await pgliteTemplate(workDir)
    if (adminUrl) env.MOODLOG_TEST_SERVER_TEMPLATE = await serverTemplate(adminUrl, runId)
    console.log(
      `templates ready in ${Date.now() - started} ms; backends: pglite${adminUrl ? ' + postgres server' : ''}` +
        `${process.env.TEST_REDIS_URL ? '; redis' : ''}; ${files.length} test files`,
    )
    const concurrency = Number(process.env.TEST_CONCURRENCY) || Math.max(2, os.availableParallelism() + 1)
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        './test/support/record-statuses.ts',
        '--test',
        `--test-concurrency=${concurrency}`,
        '--test-reporter=spec',
        ...files,
      ],
      { stdio: 'inherit', env, cwd: root },
    )
    const code = await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))))
    // The contract: a status an operation sends in the suite is a status its document lists.
    const offenders = await undocumentedStatuses(statusDir)
    if (offenders.length > 0) {
      console.error(`\nresponses with a status the OpenAPI document does not list for the operation:\n  ${offenders.join('\n  ')}`)
      return code || 1
    }
    return code
  } finally {
    if (adminUrl) await dropRunDatabases(adminUrl, runId).catch((error) => console.error('cleanup failed:', error))
    await rm(workDir, { recursive: true, force: true })
  }
}

process.exitCode = await main()
