/**
 * A node:test reporter that `npm test` adds beside the spec reporter: when the run ends it writes
 * `{ "<test file>": <milliseconds>, … }`, how long each file took from its start to its end, so the
 * runner can print the slowest and start them first next time. Plain JavaScript: node:test loads
 * reporters before the `--import` hooks (tsx) are in place.
 *
 * @param {AsyncIterable<import('node:test/reporters').TestEvent>} source
 */
export default async function* fileDurations(source) {
  /** @type {Record<string, number>} */
  const durations = {}
  for await (const event of source) {
    // Each file is a test of its own at the top, named by its path.
    if (event.type === 'test:complete' && event.data.nesting === 0 && event.data.file && event.data.name === event.data.file) {
      durations[event.data.file] = Math.round(event.data.details.duration_ms)
    }
  }
  yield JSON.stringify(durations)
}
