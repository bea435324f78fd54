/**
 * A node:test reporter that `npm test` adds beside the spec reporter: as each file ends it writes a
 * line `{ "file": "<test file>", "ms": <milliseconds> }`, how long the file took from its start to its
 * end, so the runner can print the slowest and start them first next time. A line per file, not one
 * document at the end: with --test-force-exit, Node 20 may exit before a reporter's last output is
 * written, and then only the last file's line is lost (the runner keeps its time from earlier runs). Plain JavaScript: node:test loads reporters before the `--import` hooks (tsx) are in place.
 *
 * @param {AsyncIterable<import('node:test/reporters').TestEvent>} source
 */
export default async function* fileDurations(source) {
  for await (const event of source) {
    // Each file is a test of its own at the top, named by its path.
    if (event.type === 'test:complete' && event.data.nesting === 0 && event.data.file && event.data.name === event.data.file) {
      yield JSON.stringify({ file: event.data.file, ms: Math.round(event.data.details.duration_ms) }) + '\n'
    }
  }
}
