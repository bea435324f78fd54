import { Socket } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

/**
 * How long a request body may take to arrive (docs/OPERATIONS.md, "Timeouts and limits"). Node's
 * own `requestTimeout` is one bound for every request of the server, too short for an upload over
 * a slow link and far too long for everything else; so the server's is only the outer bound, and
 * each request's body is watched here from the moment its headers are in:
 *
 * - an ordinary body must be complete within `bodyTimeoutMs`;
 * - an upload (a route whose body limit is above `uploadAbove`: `POST /import`) gets the same
 *   `bodyTimeoutMs` plus one second for every `uploadMinBytesPerSecond` bytes received, as Apache's
 *   mod_reqtimeout does with `MinRate`: an upload that keeps up the rate on average is never cut,
 *   one that trickles below it runs out of time once the head start is spent.
 *
 * A body late by these rules is answered as Node answers a late request (408 problem+json, by the
 * client error handler, and the connection closed); one still trickling in after its request was
 * answered is simply cut.
 */
export interface BodyTimeoutOptions {
  bodyTimeoutMs: number
  uploadAbove: number
  uploadMinBytesPerSecond: number
}

export const bodyTimeoutPlugin = fp(
  async function bodyTimeout(app: FastifyInstance, options: BodyTimeoutOptions) {
    /** Per kept-alive connection, the bytes it had sent when its last request was answered. */
    const answeredAt = new WeakMap<Socket, number>()
    app.addHook('onRequest', (request, _reply, done) => {
      // Injected requests (tests, the CLI) have no socket and no slow client.
      if (request.raw.socket instanceof Socket) watchBody(app, request, options, answeredAt.get(request.raw.socket) ?? 0)
      done()
    })
    app.addHook('onResponse', (request, _reply, done) => {
      if (request.raw.socket instanceof Socket) answeredAt.set(request.raw.socket, request.raw.socket.bytesRead)
      done()
    })
  },
  { name: 'moodlog-body-timeout' },
)

/** `bytesBefore`: what the connection had sent before this request (the headers and the start of the body count for it). */
function watchBody(app: FastifyInstance, request: FastifyRequest, options: BodyTimeoutOptions, bytesBefore: number): void {
  const raw = request.raw
  const socket = raw.socket
  // No body, or all of it already here.
  if (raw.complete) return
  const upload = request.routeOptions.bodyLimit !== undefined && request.routeOptions.bodyLimit > options.uploadAbove
  const start = Date.now()
  const allowedMs = () => options.bodyTimeoutMs + (upload ? ((socket.bytesRead - bytesBefore) / options.uploadMinBytesPerSecond) * 1000 : 0)
  let timer: NodeJS.Timeout | undefined
  const check = () => {
    if (raw.complete || socket.destroyed) return
    const left = start + allowedMs() - Date.now()
    if (left > 0) {
      timer = setTimeout(check, left).unref()
      return
    }
    app.server.emit('clientError', Object.assign(new Error('Request body timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket)
  }
  timer = setTimeout(check, options.bodyTimeoutMs).unref()
  raw.once('close', () => clearTimeout(timer))
}
