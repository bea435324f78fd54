import { fileURLToPath } from 'node:url'
import Postgrator from 'postgrator'
import type { Database, Transaction } from './types.js'

/** Same path from `src/db` (tsx) and `dist/db` (build). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url))

/** Arbitrary constant shared by every moodlog instance: the key of the migration advisory lock. */
const MIGRATION_LOCK_KEY = 7_262_001

export interface MigrationResult {
  from: number
  to: number
  applied: string[]
}

export interface MigrationStatus {
  current: number
  latest: number
  pending: string[]
}

async function hasVersionTable(tx: Transaction): Promise<boolean> {
  const rows = await tx.query<{ present: boolean }>("select to_regclass('public.schemaversion') is not null as present")
  return rows[0]?.present === true
}

function postgratorFor(tx: Transaction): Postgrator {
  return new Postgrator({
    migrationPattern: `${MIGRATIONS_DIR}/*.sql`,
    driver: 'pg',
    schemaTable: 'public.schemaversion',
    validateChecksums: true,
    execQuery: async (query) => ({ rows: await tx.query(query) }),
    execSqlScript: (script) => tx.exec(script),
  })
}

/**
 * Migrates to `target` (default: the newest migration) in one transaction holding a
 * transaction-scoped advisory lock: instances starting together apply each migration exactly
 * once (the others wait, then find nothing to do), and a failed migration leaves nothing behind.
 */
export async function migrate(db: Database, target = 'max'): Promise<MigrationResult> {
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
    const postgrator = postgratorFor(tx)
    // Asking postgrator for the version of a database without its table would abort the transaction.
    const from = (await hasVersionTable(tx)) ? await postgrator.getDatabaseVersion() : 0
    const applied = await postgrator.migrate(target)
    const to = await postgrator.getDatabaseVersion()
    return { from, to, applied: applied.map((m) => m.filename) }
  })
}

/** Rolls back the newest applied migration. */
export async function migrateDown(db: Database): Promise<MigrationResult> {
  const { current } = await migrationStatus(db)
  if (current === 0) return { from: 0, to: 0, applied: [] }
  const migrations = await postgratorFor({ query: async () => [], exec: async () => {} }).getMigrations()
  const previous = Math.max(0, ...migrations.filter((m) => m.action === 'do' && m.version < current).map((m) => m.version))
  return migrate(db, String(previous).padStart(3, '0'))
}

export async function migrationStatus(db: Database): Promise<MigrationStatus> {
  return db.transaction(async (tx) => {
    const postgrator = postgratorFor(tx)
    const current = (await hasVersionTable(tx)) ? await postgrator.getDatabaseVersion() : 0
    const latest = await postgrator.getMaxVersion()
    const migrations = await postgrator.getMigrations()
    const pending = migrations
      .filter((m) => m.action === 'do' && m.version > current)
      .sort((a, b) => a.version - b.version)
      .map((m) => m.filename.split('/').pop() ?? m.filename)
    return { current, latest, pending }
  })
}
