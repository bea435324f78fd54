import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { giveUp, installDeadlineScope, startDeadline } from './deadline.js'
import { sendProblem } from './problem.js'

/** A client-supplied request id is kept only when it is short and plain (it ends up in logs). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID()
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle
  }
  interface FastifyContextConfig {
    /** This route's own REQUEST_TIMEOUT (e.g. an import that reads a large body); the app's otherwise. */
    requestTimeoutMs?: number
  }
}

/** Shared between the HTTP layer and `server.ts`'s shutdown. */
export class Lifecycle {
  /** When draining began (`Date.now()`), so that later steps of the shutdown know what is left of its budget. */
  private drainStartedAt: number | undefined
  inFlight = 0
  private idleWaiters: Array<() => void> = []

  get draining(): boolean {
    return this.drainStartedAt !== undefined
  }

  set draining(value: boolean) {
    this.drainStartedAt = value ? (this.drainStartedAt ?? Date.now()) : undefined
  }

  /** `Date.now()` when draining began; undefined while not draining. */
  get drainingSince(): number | undefined {
    return this.drainStartedAt
  }

  started(): void {
    this.inFlight += 1
  }

  finished(): void {
    this.inFlight -= 1
    if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake()
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }
}

/** Routes that keep answering while draining: liveness, and readiness which reports the drain. */
const DRAIN_EXEMPT = new Set(['/livez', '/readyz', '/health'])

/**
 * Draining and request deadlines: `app.lifecycle` counts requests in flight (`server.ts` waits for
 * them at shutdown); while draining, requests are answered 503; a request that outlives
 * REQUEST_TIMEOUT_SECONDS is given up.
 */
export const lifecyclePlugin = fp(
  async function lifecycle(app: FastifyInstance) {
    app.decorate('lifecycle', new Lifecycle())
    installLifecycleHooks(app, app.lifecycle, app.config.requestTimeoutSeconds * 1000)
  },
  { name: 'moodlog-lifecycle', dependencies: ['moodlog-core'] },
)

function installLifecycleHooks(app: FastifyInstance, lifecycle: Lifecycle, requestTimeoutMs: number): void {
  installDeadlineScope(app)
  // `app.close()` without `drainAndClose` (tests, embedding) drains too: 503 problems, not Fastify's own 503.
  app.addHook('preClose', async () => {
    lifecycle.draining = true
  })
  // While draining, every answer closes its connection, so that no client sends another request
  // on a socket that is about to close (it would be reset); in-flight requests included.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (lifecycle.draining) reply.header('connection', 'close')
    return payload
  })

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('x-request-id', request.id)
    lifecycle.started()

    if (lifecycle.draining && !DRAIN_EXEMPT.has(request.routeOptions.url ?? '')) {
      reply.raw.once('close', () => lifecycle.finished())
      reply.header('connection', 'close')
      return sendProblem(request, reply, 503, 'shutting-down', 'This instance is shutting down; retry on another.', {
        headers: { 'retry-after': '1' },
      })
    }

    // A request that outlives REQUEST_TIMEOUT_SECONDS is given up and answered 503, with nothing of
    // it written (src/http/deadline.ts). A response already streaming (an export) has answered: it
    // is not cut short.
    const timeoutMs = request.routeOptions.config?.requestTimeoutMs ?? requestTimeoutMs
    startDeadline(request, timeoutMs)
    const timer = setTimeout(() => {
      if (!reply.sent && !reply.raw.headersSent) {
        request.log.warn({ timeoutMs }, 'request timed out')
        void giveUp(request, reply, timeoutMs)
      }
    }, timeoutMs)
    reply.raw.once('close', () => {
      clearTimeout(timer)
      lifecycle.finished()
    })
  })
}

/**
 * Aborts when the client disconnects before its response was sent. Watches the response, not the
 * request: Fastify's `request.signal` also aborts as soon as a request body has been read, because
 * Node's IncomingMessage emits `close` then (fastify/fastify#6725).
 */
export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  const response = reply.raw
  const gone = () => !response.writableEnded && (response.destroyed || !response.socket || response.socket.destroyed)
  // The client may have left already, while the body was read or an earlier hook waited.
  if (gone()) controller.abort()
  else response.once('close', () => response.writableEnded || controller.abort())
  return controller.signal
}
