import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Deadline, requestDeadlines, type DeadlineOutcome } from '../db/deadline.js'
import { sendProblem } from './problem.js'

/**
 * A request answered 503 `request-timeout` wrote nothing, and nothing of it runs afterwards: at the
 * deadline its statements are cancelled, none may start, and no transaction of it commits. When a
 * commit was already under way, it is waited for and the request's own answer goes out instead;
 * when a statement could not be stopped within the grace period, the answer says the outcome is
 * unknown. See docs/OPERATIONS.md.
 */

/** How long statements still running at the deadline get to be cancelled and end. */
export const CANCEL_GRACE_MS = 3000

const deadlines = new WeakMap<FastifyRequest, Deadline>()
/** Both the timer and the error handler may get here; one answers. */
const answered = new WeakSet<FastifyRequest>()

export function startDeadline(request: FastifyRequest, timeoutMs: number): Deadline {
  const deadline = new Deadline(timeoutMs)
  deadlines.set(request, deadline)
  return deadline
}

/**
 * Runs validation, the route's hooks and its handler with the request's deadline in scope. In
 * preValidation, not onRequest: Node reads a request body in an async context of its own, so a
 * scope entered before the body would be lost by the handler.
 */
export function installDeadlineScope(app: FastifyInstance): void {
  app.addHook('preValidation', (request, _reply, done) => {
    const deadline = deadlines.get(request)
    if (deadline) requestDeadlines.run(deadline, done)
    else done()
  })
}

function sendGivenUp(request: FastifyRequest, reply: FastifyReply, deadline: Deadline, outcome: DeadlineOutcome): FastifyReply {
  if (answered.has(request)) return reply
  answered.add(request)
  const seconds = deadline.timeoutMs / 1000
  if (outcome === 'nothing-written') {
    return sendProblem(request, reply, 503, 'request-timeout', `The request took longer than ${seconds} s; nothing of it was saved.`, {
      headers: { 'retry-after': '1' },
    })
  }
  return sendProblem(
    request,
    reply,
    503,
    'request-outcome-unknown',
    `The request took longer than ${seconds} s and could not be stopped in time: it may have been saved. ` +
      'Retry with the same Idempotency-Key, or check before retrying.',
    { headers: { 'retry-after': '1' } },
  )
}

/** The request timer fired: give the request up, then answer unless a commit of it went through. */
export async function giveUp(request: FastifyRequest, reply: FastifyReply, timeoutMs: number): Promise<void> {
  const deadline = deadlines.get(request) ?? startDeadline(request, timeoutMs)
  const outcome = await deadline.expire(CANCEL_GRACE_MS)
  // `written`: the handler carries on from its commit and sends the true answer.
  if (outcome === 'written' || reply.sent || reply.raw.headersSent) return
  sendGivenUp(request, reply, deadline, outcome)
}

/** For the error handler: a statement refused or cancelled after the deadline. */
export async function answerAfterDeadline(request: FastifyRequest, reply: FastifyReply, deadline: Deadline): Promise<FastifyReply> {
  const outcome = await deadline.settled()
  if (reply.sent || reply.raw.headersSent) return reply
  // After a late commit the handler could not finish: what it saved is unknown to the client.
  return sendGivenUp(request, reply, deadline, outcome === 'written' ? 'unknown' : outcome)
}
