import type { Config } from '../config.js'
import type { BreakerLog } from './breaker.js'
import { openEmbeddedDatabase } from './embedded.js'
import { openServerDatabase } from './server.js'
import type { Database } from './types.js'

export type { Database, Lane, PoolUsage, Queryable, RawQueryable, Transaction, TransactionOptions, Row, DatabaseKind } from './types.js'
export { DatabaseUnavailableError, isForeignKeyViolation, isUniqueViolation, sqlState } from './errors.js'
export { DataDirLockedError } from './embedded.js'
export { migrate, migrateDown, migrationStatus } from './migrate.js'

/** How a command reaches the database a configuration names (`openDatabase`, or one a test holds); the caller closes it. */
export type OpenDatabase = (config: Config) => Promise<Database>

/** Server Postgres when `DATABASE_URL` is set, otherwise embedded PGlite in `DATA_DIR`. */
export async function openDatabase(config: Config, log?: BreakerLog): Promise<Database> {
  if (config.databaseUrl === undefined) return openEmbeddedDatabase(config.dataDir, log)
  return openServerDatabase({
    url: config.databaseUrl,
    poolSize: config.databasePoolSize,
    scanPoolSize: config.databaseScanPoolSize,
    pointPoolSize: config.databasePointPoolSize,
    statementTimeoutMs: config.requestTimeoutSeconds * 1000,
    connectTimeoutMs: config.databaseConnectTimeoutSeconds * 1000,
    acquireTimeoutMs: config.databaseAcquireTimeoutSeconds * 1000,
    breakerThreshold: config.databaseBreakerThreshold,
    log,
  })
}
