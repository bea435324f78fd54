import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { terminalProgress } from './progress.js'

/** What a terminal would show: a stream that says it is a TTY and keeps what is written, escapes removed. */
function fakeTerminal() {
  let written = ''
  const stream = new Writable({
    write(chunk, _encoding, done) {
      written += String(chunk)
      done()
    },
  }) as unknown as NodeJS.WriteStream
  Object.assign(stream, { isTTY: true, columns: 120 })
  // A move to the line's start becomes a carriage return (what is drawn after it replaces the line); other escapes go.
  // eslint-disable-next-line no-control-regex
  const plain = () => written.replace(/\x1b\[1G/g, '\r').replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '')
  return { stream, plain }
}

describe('progress on a terminal', () => {
  test('when the size is known, then the line shows a bar, the percentage, the count and the rows per second', () => {
    const terminal = fakeTerminal()
    let clock = 1_000_000
    const progress = terminalProgress(terminal.stream, () => clock)
    progress.start('read', 2_000_000, 'bytes')
    assert.match(terminal.plain(), /read \|[░ ]+\| 0% \| 0\/2000000 bytes \| 0 rows\/s/)
    clock += 4_000
    // Half the bytes in 4 s, 10,000 rows among them.
    progress.update(1_000_000, 10_000)
    progress.stop()
    const last = terminal.plain().trimEnd().split(/\r|\n/).at(-1)!
    assert.match(last, /^read \|█+░+\| 50% \| 1000000\/2000000 bytes \| 2,500 rows\/s$/)
  })

  test('when the size is unknown, then the line counts rows with their rate and shows no percentage', () => {
    const terminal = fakeTerminal()
    let clock = 0
    const progress = terminalProgress(terminal.stream, () => clock)
    progress.start('read', undefined, 'rows')
    clock = 2_000
    progress.update(3_000)
    progress.stop()
    const output = terminal.plain()
    assert.match(output, /read 3000 rows \| 1,500 rows\/s/)
    assert.doesNotMatch(output, /%/)
  })

  test('when a second phase starts, then the first line is finished and the second counts from zero', () => {
    const terminal = fakeTerminal()
    let clock = 0
    const progress = terminalProgress(terminal.stream, () => clock)
    progress.start('read', 100, 'bytes')
    clock = 1_000
    progress.update(100, 40)
    progress.start('write', 40, 'entries')
    clock = 3_000
    progress.update(40)
    progress.stop()
    const output = terminal.plain()
    assert.match(output, /read \|█+\| 100% \| 100\/100 bytes \| 40 rows\/s/)
    assert.match(output, /write \|█+\| 100% \| 40\/40 entries \| 20 rows\/s/)
  })
})
