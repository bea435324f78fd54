import { conflict } from '../http/errors.js'

/**
 * The accounts with an export in progress on this instance. An account has at most one: a second
 * would read the same pages again on the same few connections (the export and scan lanes, shared
 * by every account's exports), so one account downloading its journal many times at once could
 * hold up everyone else's. A second is 409 until the first's response is over.
 */
export function exportSlots() {
  const exporting = new Set<number>()
  return {
    /** Takes the slot of `userId`, or throws the 409; the returned function gives it back (once). */
    take(userId: number): () => void {
      if (exporting.has(userId)) {
        throw conflict('An export of this journal is already in progress; ask again once its download has ended.', 'export-in-progress')
      }
      exporting.add(userId)
      let released = false
      return () => {
        if (!released) exporting.delete(userId)
        released = true
      }
    },
  }
}
