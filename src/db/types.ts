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

/** For metrics: the pool's configured size and the statements and transactions in progress. */
export interface DatabaseUsage {
  /** Connections the pool may open (1 for embedded PGlite). */
  size: number
  /** Statements outside a transaction plus open transactions; beyond `size` they wait. */
  inFlight: number
}

export interface Database extends Queryable {
  readonly kind: DatabaseKind
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>
  /** Resolves when the database answers; throws `DatabaseUnavailableError` otherwise. */
  ping(): Promise<void>
  usage(): DatabaseUsage
  close(): Promise<void>
}
