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
 * the connection closed). A request answered before its body is in closes its connection after the
 * answer, so the rest of its body is never waited for.
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
      answeredFirstCloses(raw, response)
      // What the connection has sent up to now (this request's headers, maybe the start of its
      // body) buys no upload time: bytes of an earlier request never count for this one.
      watchBody(app, raw, options, socket.bytesRead, () => uploads.has(raw))
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

/**
 * A request answered before its body has arrived (401, 413, 415, 409 …) gets `Connection: close`:
 * Node would otherwise read and drop the rest of the body, however slowly it comes, to keep the
 * connection for the next request. Until the body has been read, the response says it closes; once
 * it has, the client's own choice is back.
 */
function answeredFirstCloses(raw: IncomingMessage, response: ServerResponse): void {
  const keepAlive = response.shouldKeepAlive
  response.shouldKeepAlive = false
  raw.once('end', () => {
    if (!response.headersSent) response.shouldKeepAlive = keepAlive
  })
}

/** `bytesBefore`: what the connection had sent when this request's headers were in. */
function watchBody(
  app: FastifyInstance,
  raw: IncomingMessage,
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
  let timer: NodeJS.Timeout | undefined
  const check = () => {
    if (raw.complete || socket.destroyed) return
    const now = Date.now()
    if (socket.bytesRead !== lastBytes) {
      lastBytes = socket.bytesRead
      lastProgress = now
    }
    const isUpload = upload()
    const credit = isUpload ? ((socket.bytesRead - bytesBefore) / options.uploadMinBytesPerSecond) * 1000 : 0
    const left = start + options.bodyTimeoutMs + credit - now
    const idle = isUpload && now - lastProgress >= options.bodyTimeoutMs
    if (left > 0 && !idle) {
      timer = setTimeout(check, isUpload ? Math.min(left, idleCheckMs) : left).unref()
      return
    }
    app.server.emit('clientError', Object.assign(new Error('Request body timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket)
  }
  // The route is not known yet: the first check comes early enough for an upload's idle watch.
  timer = setTimeout(check, idleCheckMs).unref()
  raw.once('close', () => clearTimeout(timer))
}
