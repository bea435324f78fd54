/**
 * The messages between the main thread and the worker that owns PGlite (embedded-worker.ts).
 * Every request carries an id; the worker answers each one exactly once with the same id.
 * Values cross by structured clone, which keeps what PGlite's type parsers return (Date,
 * Uint8Array, BigInt, plain objects and arrays); a Buffer parameter arrives as a Uint8Array,
 * which PGlite binds as bytea all the same.
 */

/** Where the worker's database comes from: a data directory, or a data-dir dump opened in memory. */
export type WorkerSource = { dataDir: string } | { dump?: Uint8Array }

export type Request =
  | { id: number; op: 'query'; text: string; params: readonly unknown[] }
  /** Opens a transaction; the answer's value is its id, used by the tx operations below. */
  | { id: number; op: 'begin' }
  | { id: number; op: 'txQuery'; tx: number; text: string; params: readonly unknown[] }
  | { id: number; op: 'txExec'; tx: number; script: string }
  | { id: number; op: 'commit'; tx: number }
  | { id: number; op: 'rollback'; tx: number }
  /** CHECKPOINT, then close: the answer comes once the files are consistent. */
  | { id: number; op: 'close' }

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError }

/** The worker's first message: its database is open, or could not be. */
export type Started = { ready: true } | { ready: false; error: SerializedError }

/** An error's message, stack and every scalar field (code, constraint, detail, severity …). */
export type SerializedError = Record<string, string | number | boolean | undefined>

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) }
  const fields: SerializedError = { name: error.name, message: error.message, stack: error.stack }
  for (const [key, value] of Object.entries(error)) {
    // PGlite's errors also carry the query's parameters and options (parsers are functions): not sent.
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value
  }
  return fields
}

/**
 * An Error with the fields the worker's error had, so that SQLSTATE checks (`sqlState`,
 * `isUniqueViolation`, the deadline's `answeredByServer`) see what they would have in-process.
 */
export function reviveError(fields: SerializedError): Error {
  const { message, stack, ...rest } = fields
  const error = Object.assign(new Error(String(message ?? 'embedded database error')), rest)
  if (typeof stack === 'string') error.stack = `${stack}\n    at <embedded database worker>`
  return error
}
