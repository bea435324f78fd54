import type { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
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
 *   one that trickles below it runs out of time once the head start is spent. An upload that stops
 *   sending altogether is cut once it has sent nothing for `bodyTimeoutMs`, as nginx's
 *   `client_body_timeout` does, whatever credit its earlier bytes bought: it is checked every
 *   quarter of `bodyTimeoutMs`, so the cut comes at most 1.25 × `bodyTimeoutMs` after its last byte.
 *
 * Every request with a body is watched, those answered before routing included (a URL that does not
 * decode, an over-long path parameter: Fastify runs no hooks for them). A body late by these rules
 * is answered as Node answers a late request (408 problem+json, by the client error handler, and
 * the connection closed). The rest of the body of a request answered before it arrived (a 401, 413,
 * 415 …) gets `bodyTimeoutMs` from the answer, with no upload allowance, and is then cut.
 */
export interface BodyTimeoutOptions {
  bodyTimeoutMs: number
  uploadAbove: number
  uploadMinBytesPerSecond: number
}

export const bodyTimeoutPlugin = fp(
  async function bodyTimeout(app: FastifyInstance, options: BodyTimeoutOptions) {
    /** Requests whose route takes an upload; known only once routed, after the watch has started. */
    const uploads = new WeakSet<IncomingMessage>()
    // Before Fastify's own listener, so that nothing it does first can skip the watch. Injected
    // requests (tests, the CLI) never reach the server: they have no socket and no slow client.
    app.server.prependListener('request', (raw: IncomingMessage, response: ServerResponse) => {
      const socket = raw.socket
      if (!(socket instanceof Socket) || !hasBody(raw)) return
      // What the connection has sent up to now (this request's headers, maybe the start of its
      // body) buys no upload time: bytes of an earlier request never count for this one.
      watchBody(app, raw, response, options, socket.bytesRead, () => uploads.has(raw))
    })
    app.addHook('onRequest', (request, _reply, done) => {
      const { bodyLimit } = request.routeOptions
      if (bodyLimit !== undefined && bodyLimit > options.uploadAbove) uploads.add(request.raw)
      done()
    })
  },
  { name: 'moodlog-body-timeout' },
)

/** HTTP/1.1: a request has a body when it says how long it is or how it is chunked (RFC 9112 §6.3). */
function hasBody(raw: IncomingMessage): boolean {
  const length = raw.headers['content-length']
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/** `bytesBefore`: what the connection had sent when this request's headers were in. */
function watchBody(
  app: FastifyInstance,
  raw: IncomingMessage,
  response: ServerResponse,
  options: BodyTimeoutOptions,
  bytesBefore: number,
  upload: () => boolean,
): void {
  // No body, or all of it already here.
  if (raw.complete) return
  const socket = raw.socket
  const start = Date.now()
  const idleCheckMs = Math.max(1, Math.floor(options.bodyTimeoutMs / 4))
  let lastBytes = socket.bytesRead
  let lastProgress = start
  /** When the request was answered with its body still on the way (a 401, 413, 415 …). */
  let answeredAt: number | undefined
  let timer: NodeJS.Timeout | undefined
  const check = () => {
    if (raw.complete || socket.destroyed) return
    const now = Date.now()
    if (answeredAt !== undefined) {
      // Node reads and drops the rest of an answered request's body to keep the connection: that
      // rest gets BODY_TIMEOUT_SECONDS from the answer, no upload allowance, and is then cut
      // without another answer (one was given).
      const left = Math.min(answeredAt + options.bodyTimeoutMs, start + options.bodyTimeoutMs + credit()) - now
      if (left > 0) timer = setTimeout(check, left).unref()
      else socket.destroy()
      return
    }
    if (socket.bytesRead !== lastBytes) {
      lastBytes = socket.bytesRead
      lastProgress = now
    }
    const isUpload = upload()
    const left = start + options.bodyTimeoutMs + credit() - now
    const idle = isUpload && now - lastProgress >= options.bodyTimeoutMs
    if (left > 0 && !idle) {
      timer = setTimeout(check, isUpload ? Math.min(left, idleCheckMs) : left).unref()
      return
    }
    app.server.emit('clientError', Object.assign(new Error('Request body timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket)
  }
  const credit = () => (upload() ? ((socket.bytesRead - bytesBefore) / options.uploadMinBytesPerSecond) * 1000 : 0)
  response.once('finish', () => {
    if (raw.complete || socket.destroyed) return
    answeredAt = Date.now()
    clearTimeout(timer)
    check()
  })
  // The route is not known yet: the first check comes early enough for an upload's idle watch.
  timer = setTimeout(check, idleCheckMs).unref()
  raw.once('close', () => clearTimeout(timer))
}
