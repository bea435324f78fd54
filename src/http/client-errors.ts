import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { PROBLEM_CONTENT_TYPE, problemOf, sendProblem } from './problem.js'

/**
 * Errors made before a request reaches a route, answered as problem+json like every other error
 * (Fastify's defaults answer them with its own JSON and `FST_ERR_*` codes).
 */

/** Fastify's router errors: a URL that does not decode (`/entries/%`), a path parameter over 100 characters. */
export function frameworkErrorHandler(securityHeaders: Record<string, string>) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    // The route's hooks do not run for these: add what every response carries. The connection is
    // closed after the answer, as for a parser error: a body sent with such a request is not read.
    reply.headers(securityHeaders).header('x-request-id', request.id).header('connection', 'close')
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      sendProblem(request, reply, 414, 'uri-too-long', 'A path segment is longer than 100 characters.')
      return
    }
    sendProblem(request, reply, 400, 'invalid-url', 'The URL is not validly percent-encoded.')
  }
}

/** What Node's HTTP parser and connection checks report, as (status, problem code, detail). */
function classify(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers-too-large', 'The request line and headers exceed 16 KiB.']
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'body-too-large', 'The chunk extensions of the request body are too large.']
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request-timeout', 'The request headers or body did not arrive in time.']
    default:
      return [400, 'malformed-request', 'The request is not valid HTTP/1.1.']
  }
}

/**
 * Fastify's `clientErrorHandler`: the socket's parser failed, or the request did not arrive within
 * the server's header or request timeout. There is no request object, so the answer is written to
 * the socket directly, and the connection is closed (its byte stream can no longer be trusted).
 */
export function clientErrorHandler(securityHeaders: Record<string, string>) {
  // Fastify calls it with the instance as `this`.
  return function (this: { log: FastifyBaseLogger }, error: Error & { code?: string }, socket: Socket): void {
    // A reset: nobody is listening any more.
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const [status, code, detail] = classify(error.code)
    this.log.debug({ err: error, status }, 'client error')
    // Like Node's own handler: write an answer only where no response has started on this socket
    // (a body still trickling in after its request was answered is simply cut).
    const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage
    if (socket.writable && !response?.headersSent) {
      const requestId = randomUUID()
      // The request line may not have been read: `instance` stays empty.
      const body = JSON.stringify(problemOf(status, code, detail, { instance: '', requestId }))
      const headers = {
        ...securityHeaders,
        'content-type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
        'content-length': String(Buffer.byteLength(body)),
        'x-request-id': requestId,
        connection: 'close',
      }
      const head = Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('')
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}\r\n${body}`)
    }
    socket.destroy()
  }
}
