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

/** Statements and transactions on one pool of connections. */
export interface Lane extends Queryable {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>
}

/** For metrics: one pool's configured size and the statements and transactions in progress on it. */
export interface PoolUsage {
  pool: 'main' | 'scans'
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
  /** Resolves when the database answers; throws `DatabaseUnavailableError` otherwise. */
  ping(): Promise<void>
  usage(): PoolUsage[]
  close(): Promise<void>
}
