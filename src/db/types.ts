export type Row = Record<string, unknown>

/** What repositories see: parameterised Postgres, nothing driver-specific. */
export interface Queryable {
  /** Runs one parameterised statement (`$1`, `$2` …) and returns its rows. */
  query<T extends object = Row>(text: string, params?: readonly unknown[]): Promise<T[]>
}

export interface Transaction extends Queryable {
  /** Runs a multi-statement script without parameters (migrations only). */
  exec(script: string): Promise<void>
}

export type DatabaseKind = 'embedded' | 'server'

/** How one transaction runs. Each setting lasts for that transaction only. */
export interface TransactionOptions {
  /** Default: the server's (read committed). */
  isolation?: 'read committed' | 'repeatable read' | 'serializable'
  /** Refuses every write in the transaction (SQLSTATE 25006). */
  readOnly?: boolean
  /** How long a statement waits for a lock before failing with 55P03 (`lock_timeout`). */
  lockTimeoutMs?: number
  /** The longest any one statement of the transaction may run (`statement_timeout`, 57014). */
  statementTimeoutMs?: number
  /** Other run-time parameters by name (`timezone`, `extra_float_digits` …), as `SET LOCAL` sets them. */
  settings?: Readonly<Record<string, string>>
}

/**
 * Statements whose values come back as the bytes Postgres sent (postgres.js `raw()`): each row an
 * array of Buffers, in the select's order, null for NULL. Nothing is parsed, so a value costs the
 * JS heap nothing.
 */
export interface RawQueryable {
  queryRaw(text: string, params?: readonly unknown[]): Promise<Array<Array<Buffer | null>>>
}

/** Statements and transactions on one pool of connections. */
export interface Lane extends Queryable {
  /** Runs `fn` in one transaction run as `options` say: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T>
}

/** For metrics: one pool's configured size and the statements and transactions in progress on it. */
export interface PoolUsage {
  pool: 'main' | 'scans' | 'points' | 'exports'
  /** Connections the pool may open (1 for embedded PGlite). */
  size: number
  /** Statements outside a transaction plus open transactions; beyond `size` they wait. */
  inFlight: number
}

export interface Database extends Lane {
  readonly kind: DatabaseKind
  /**
   * The lane for statements that may read many rows: list pages and counts. In server mode it is
   * a small pool of its own, so that a slow scan can only hold up other scans, never the
   * short statements of the main pool (sign-in, session checks, single entries, writes), which
   * postgres.js would otherwise queue behind it on a busy connection. Embedded: the one connection.
   */
  readonly scans: Lane
  /**
   * The lane for single-row reads by key outside a transaction (one entry, a total, a session's
   * state, the account at sign-in). In server mode it is one connection of its own: postgres.js
   * pipelines the queries sent to one connection (many in one socket write) and one Postgres
   * backend answers them back to back, which costs both processes less per read than spreading the
   * same reads over the main pool. Embedded: the one connection.
   */
  readonly points: Lane
  /**
   * Server mode only: the lane of the NDJSON export's pages, one connection of its own
   * (`moodlog-export`) whose values arrive as bytes (see `rawNdjsonPagesOn`), so that a long export
   * neither grows the JS heap nor holds up the scans. Embedded: absent (PGlite hands over strings,
   * and the export reads its pages on `scans`).
   */
  readonly exports?: RawQueryable
  /** Resolves when the database answers; throws `DatabaseUnavailableError` otherwise. */
  ping(): Promise<void>
  usage(): PoolUsage[]
  close(): Promise<void>
}
