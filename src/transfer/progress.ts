import cliProgress from 'cli-progress'

export interface Progress {
  /** `total` known: a bar with a percentage; unknown: a count with the rate. */
  start(label: string, total: number | undefined, unit: string): void
  /** `value` moves the bar (entries, or bytes of a file); `rows` gives the rate (default: `value`). */
  update(value: number, rows?: number): void
  stop(): void
}

/** Nothing at all: for pipes, files and tests. */
export const noProgress: Progress = { start() {}, update() {}, stop() {} }

/**
 * A progress line on a terminal (stderr, so stdout can carry an export): rows per second, and a
 * bar with a percentage when the size is known. Redrawn at most 10 times a second. `now` is the
 * clock the rate is measured with.
 */
export function terminalProgress(stream: NodeJS.WriteStream, now: () => number = Date.now): Progress {
  let bar: cliProgress.SingleBar | undefined
  let started = 0
  const rate = (value: number) => {
    const seconds = (now() - started) / 1000
    return seconds > 0 ? Math.round(value / seconds).toLocaleString('en') : '0'
  }
  return {
    start(label, total, unit) {
      bar?.stop()
      started = now()
      const known = total !== undefined && total > 0
      bar = new cliProgress.SingleBar(
        {
          stream,
          fps: 10,
          hideCursor: true,
          clearOnComplete: false,
          format: known
            ? `${label} |{bar}| {percentage}% | {value}/{total} ${unit} | {rate} rows/s`
            : `${label} {value} ${unit} | {rate} rows/s`,
        },
        cliProgress.Presets.shades_classic,
      )
      bar.start(known ? total : 0, 0, { rate: '0' })
    },
    update(value, rows = value) {
      bar?.update(value, { rate: rate(rows) })
    },
    stop() {
      bar?.stop()
      bar = undefined
    },
  }
}
