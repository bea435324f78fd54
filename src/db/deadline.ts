import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * How a request that was given up at its deadline ended on the database side:
 * - `nothing-written`: no statement or commit of it can have changed anything;
 * - `written`: a commit (or a statement outside a transaction) finished after the deadline, so the
 *   request's own answer tells the truth and is the one to send;
 * - `unknown`: something was still running when the grace period ran out (a stuck connection), or
 *   a commit already sent lost its connection before the answer (the server may have committed).
 */
export type DeadlineOutcome = 'nothing-written' | 'written' | 'unknown'

/** A statement of the request, or a commit: whatever may still change data once the request is given up. */
interface Running {
  /** Cancels a statement on the server; commits have none (a commit under way is waited for). */
  cancel?: () => void
  commits: boolean
}

/**
 * The database side of one request's deadline. The database layer reports every statement and
 * commit it runs for the request; once the request is given up (`expire()`), nothing new may
 * start, running statements are cancelled, and the outcome says whether anything was written. A
 * commit starts only after checking `expired` in the same turn of the event loop, so "nothing
 * written" holds exactly: no commit can slip in between the check and the answer.
 */
export class Deadline {
  expired = false
  private readonly running = new Set<Running>()
  private wroteLate = false
  /** A commit was sent and then its connection failed: nothing says whether the server committed. */
  private commitUnanswered = false
  private idle: (() => void) | undefined
  private outcome: Promise<DeadlineOutcome> | undefined

  constructor(readonly timeoutMs: number) {}

  /** Throws once the request was given up, so that nothing new starts. */
  check(): void {
    if (this.expired) throw new DeadlineExceededError(this)
  }

  /**
   * Runs `work` as part of the request. `commits`: it may change data when it succeeds (a
   * `COMMIT`, or a statement outside a transaction). `cancel` stops it on the server.
   */
  async track<T>(work: () => Promise<T>, options: Running): Promise<T> {
    this.check()
    const entry = { ...options }
    this.running.add(entry)
    let ok = false
    try {
      const result = await work()
      ok = true
      return result
    } catch (error) {
      // A commit the server refused (with an SQLSTATE) changed nothing; one whose connection failed
      // may still have been committed by the server, which does not stop when the client goes.
      if (this.expired && entry.commits && !answeredByServer(error)) this.commitUnanswered = true
      // Cancelled (or failed) after the request was given up: report that, not the driver's error.
      if (this.expired) throw new DeadlineExceededError(this)
      throw error
    } finally {
      this.running.delete(entry)
      if (ok && this.expired && entry.commits) this.wroteLate = true
      if (this.running.size === 0) this.idle?.()
    }
  }

  /**
   * Gives the request up: refuses what would start next, cancels the statements in flight and
   * waits up to `graceMs` for them to end. Idempotent: every caller gets the same outcome.
   */
  expire(graceMs: number): Promise<DeadlineOutcome> {
    if (this.outcome) return this.outcome
    this.expired = true
    for (const entry of this.running) entry.cancel?.()
    this.outcome = new Promise<DeadlineOutcome>((resolve) => {
      const settle = () => resolve(this.commitUnanswered ? 'unknown' : this.wroteLate ? 'written' : 'nothing-written')
      if (this.running.size === 0) return settle()
      const timer = setTimeout(() => {
        this.idle = undefined
        resolve('unknown')
      }, graceMs)
      this.idle = () => {
        clearTimeout(timer)
        this.idle = undefined
        settle()
      }
    })
    return this.outcome
  }

  /** The outcome once `expire()` was called. */
  settled(): Promise<DeadlineOutcome> {
    return this.outcome ?? Promise.resolve('nothing-written')
  }
}

/**
 * An error the server sent as an answer (an ErrorResponse: severity and SQLSTATE, from postgres.js
 * and PGlite alike), as opposed to a lost connection (`ECONNRESET`, `EPIPE`, `CONNECTION_CLOSED`).
 */
function answeredByServer(error: unknown): boolean {
  const { code, severity } = (error ?? {}) as { code?: unknown; severity?: unknown }
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
}

/** A statement refused or cancelled because its request was already given up. */
export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError'
  constructor(readonly deadline: Deadline) {
    super('the request was given up at its deadline')
  }
}

/**
 * The deadline of the request being served, carried through its async calls so that the database
 * layer sees it without every function passing it along. Outside requests (CLI, migrations,
 * background work) there is none, and nothing is checked.
 */
export const requestDeadlines = new AsyncLocalStorage<Deadline>()

export function currentDeadline(): Deadline | undefined {
  return requestDeadlines.getStore()
}
