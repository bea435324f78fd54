import type { Queryable, TransactionOptions } from './types.js'

/** The SQL of each level: the option's value is never written into a statement itself. */
const ISOLATION_LEVELS = {
  'read committed': 'read committed',
  'repeatable read': 'repeatable read',
  serializable: 'serializable',
} as const

/**
 * Applies `options` as the first statements of a just-begun transaction, the same way on both
 * engines: `SET TRANSACTION` first (Postgres fixes the isolation level at the transaction's first
 * query), then the parameters through `set_config(…, true)`, which is `SET LOCAL` with bound values.
 * Everything ends with the transaction.
 */
export async function applyTransactionOptions(tx: Queryable, options: TransactionOptions = {}): Promise<void> {
  const modes: string[] = []
  if (options.isolation !== undefined) {
    const level = ISOLATION_LEVELS[options.isolation]
    if (!level) throw new TypeError(`unknown isolation level: ${String(options.isolation)}`)
    modes.push(`isolation level ${level}`)
  }
  if (options.readOnly) modes.push('read only')
  if (modes.length > 0) await tx.query(`set transaction ${modes.join(', ')}`)

  const settings = Object.entries({
    ...options.settings,
    ...(options.lockTimeoutMs !== undefined && { lock_timeout: `${options.lockTimeoutMs}ms` }),
    ...(options.statementTimeoutMs !== undefined && { statement_timeout: `${options.statementTimeoutMs}ms` }),
  })
  if (settings.length === 0) return
  const calls = settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`)
  await tx.query(`select ${calls.join(', ')}`, settings.flat())
}
