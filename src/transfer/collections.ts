import vm from 'node:vm'

/** How a collection is started: `vm.measureMemory`'s signature, where the runtime has it. */
export type MeasureMemory = (options: { execution: 'eager' }) => Promise<unknown>

export interface CollectionsOptions {
  /** What starts one; null where the runtime has no `vm.measureMemory` (then nothing is started). */
  measureMemory?: MeasureMemory | null
  /** Milliseconds on a monotonic clock. */
  now?: () => number
  /** The shortest time between two started collections. */
  minIntervalMs?: number
}

/**
 * Starts garbage collections on request, at most one per `minIntervalMs`. `vm.measureMemory` with
 * eager execution is the documented way to start one without --expose-gc (its measurement is not
 * used, and not awaited). A collection frees the garbage of the whole process, so one every
 * second serves every export at once: the exports asking together (each every 16 MiB of pages)
 * must not multiply them. Returns whether one was started.
 */
export function collections(options: CollectionsOptions = {}): () => boolean {
  const measureMemory = options.measureMemory === undefined ? detected() : options.measureMemory
  const now = options.now ?? (() => performance.now())
  const minIntervalMs = options.minIntervalMs ?? 1000
  let last = -Infinity
  return () => {
    if (!measureMemory) return false
    const at = now()
    if (at - last < minIntervalMs) return false
    last = at
    try {
      measureMemory({ execution: 'eager' }).catch(() => {})
    } catch {
      // A runtime that has the function but refuses the call: nothing is started, nothing breaks.
    }
    return true
  }
}

/** `vm.measureMemory` is experimental: absent from some runtimes, and not for an export to fail on. */
function detected(): MeasureMemory | null {
  const measure = (vm as { measureMemory?: unknown }).measureMemory
  return typeof measure === 'function' ? (measure as MeasureMemory) : null
}

/** The process's one: collections are of the process's heap, so the cap is too (shared by every app in it). */
export const startCollection = collections()
