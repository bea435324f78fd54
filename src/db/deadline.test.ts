import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Deadline, DeadlineExceededError } from './deadline.js'

/** A commit that is under way when the request is given up, ended by `finish`. */
function commitUnderWay(deadline: Deadline) {
  let finish!: (error?: Error) => void
  const sent = deadline.track(
    () =>
      new Promise<void>((resolve, reject) => {
        finish = (error) => (error ? reject(error) : resolve())
      }),
    { commits: true },
  )
  return { sent: sent.catch((error: unknown) => error), finish: (error?: Error) => finish(error) }
}

const withCode = (message: string, code: string, severity?: string) => Object.assign(new Error(message), { code, severity })

test('when a commit sent before the deadline loses its connection, then the outcome is unknown, never "nothing written"', async () => {
  const deadline = new Deadline(1000)
  const commit = commitUnderWay(deadline)
  const outcome = deadline.expire(5000)
  commit.finish(withCode('write EPIPE', 'EPIPE'))
  assert.ok((await commit.sent) instanceof DeadlineExceededError)
  assert.equal(await outcome, 'unknown')
})

test('when a commit sent before the deadline is refused by the server, then nothing was written', async () => {
  const deadline = new Deadline(1000)
  const commit = commitUnderWay(deadline)
  const outcome = deadline.expire(5000)
  commit.finish(withCode('could not serialize access', '40001', 'ERROR'))
  await commit.sent
  assert.equal(await outcome, 'nothing-written')
})

test('when a commit sent before the deadline succeeds, then it was written', async () => {
  const deadline = new Deadline(1000)
  const commit = commitUnderWay(deadline)
  const outcome = deadline.expire(5000)
  commit.finish()
  await commit.sent
  assert.equal(await outcome, 'written')
})
