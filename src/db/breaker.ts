import { DatabaseUnavailableError } from './errors.js'

export interface BreakerLog {
  warn(object: object, message: string): void
  info(object: object, message: string): void
}

export interface BreakerOptions {
  /** Consecutive connection failures that open the breaker. */
  threshold: number
  /** While open, how often the probe runs. */
  probeIntervalMs: number
  /** One round trip that bypasses the breaker; resolves when the database answers. */
  probe: () => Promise<void>
  log?: BreakerLog
}

/**
 * A circuit breaker in front of the database: after `threshold` connection failures in a row it
 * opens, and every call fails at once with `DatabaseUnavailableError` instead of waiting for a
 * connection that will not come. While open, a probe runs every `probeIntervalMs`; the first one
 * that succeeds closes it. Statement errors (a constraint, a syntax error) prove the database is
 * reachable and count as successes.
 */
export class CircuitBreaker {
  private failures = 0
  private lastSuccessAt = performance.now()
  private openedAt: number | undefined
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly options: BreakerOptions) {}

  get isOpen(): boolean {
    return this.openedAt !== undefined
  }

  /** Throws while open. */
  check(): void {
    if (this.openedAt === undefined) return
    throw new DatabaseUnavailableError(
      new Error(`circuit open: ${this.options.threshold} connection failures in a row; probing every ${this.options.probeIntervalMs} ms`),
    )
  }

  succeeded(): void {
    this.failures = 0
    this.lastSuccessAt = performance.now()
  }

  /** Milliseconds since the database last answered anything. */
  quietForMs(): number {
    return performance.now() - this.lastSuccessAt
  }

  failed(): void {
    this.failures += 1
    if (this.failures >= this.options.threshold && this.openedAt === undefined && !this.stopped) {
      this.openedAt = Date.now()
      this.options.log?.warn({ failures: this.failures }, 'database unreachable: circuit open, requests fail fast until a probe succeeds')
      this.schedule()
    }
  }

  /** Stops probing (the pool is closing). */
  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private schedule(): void {
    // Unref'd: a process with nothing else to do may exit while the database is away.
    this.timer = setTimeout(() => void this.runProbe(), this.options.probeIntervalMs).unref()
  }

  private async runProbe(): Promise<void> {
    if (this.stopped) return
    try {
      await this.options.probe()
    } catch {
      if (!this.stopped) this.schedule()
      return
    }
    const downMs = Date.now() - (this.openedAt ?? Date.now())
    this.succeeded()
    this.openedAt = undefined
    this.options.log?.info({ downMs }, 'database reachable again: circuit closed')
  }
}
