/** The database cannot be reached right now; the HTTP layer answers 503 and the pool recovers by itself. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError'
  constructor(cause: unknown) {
    super('database unavailable', { cause })
  }
}

/** Socket-level codes (Node and postgres.js) and SQLSTATE classes that mean "no usable connection". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
])

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

export function isConnectionError(error: unknown): boolean {
  const code = sqlState(error)
  if (code === undefined) return error instanceof AggregateError && error.errors.some(isConnectionError)
  return CONNECTION_CODES.has(code) || code.startsWith('08') // class 08: connection exception
}

/** 23505 unique_violation — how a taken email or key is recognised (never by message text). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (sqlState(error) !== '23505') return false
  if (constraint === undefined) return true
  const actual =
    (error as { constraint_name?: string; constraint?: string }).constraint_name ?? (error as { constraint?: string }).constraint
  return actual === constraint
}

/** 23503 foreign_key_violation: the row referred to is gone (deleted by a concurrent request). */
export function isForeignKeyViolation(error: unknown): boolean {
  return sqlState(error) === '23503'
}
