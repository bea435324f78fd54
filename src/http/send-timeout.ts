import type { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/**
 * How long a client may stop reading its answer (docs/OPERATIONS.md, "Timeouts and limits"): a
 * response whose client takes nothing for `sendTimeoutMs` (up to twice that: the timer lets a write
 * that drained since it was queued off once) while bytes of it wait to be sent is cut,
 * as nginx's `send_timeout` does; a slow reader that keeps taking bytes is never cut. Without it, a
 * client that pauses a large export holds its connection (and the account's one export) forever.
 *
 * It is the socket's own inactivity timeout, which every byte read or written restarts and which a
 * write still draining to the kernel holds off. When it fires, only a response with bytes waiting
 * for the client is cut: one still being made (a slow query, an import being written) is not the
 * client's doing, and a request body still arriving has timeouts of its own (bodyTimeoutPlugin).
 */
export const sendTimeoutPlugin = fp(
  async function sendTimeout(app: FastifyInstance, options: { sendTimeoutMs: number }) {
    app.server.on('request', (raw: IncomingMessage, response: ServerResponse) => {
      // Injected requests (tests, the CLI) have no socket and no slow reader.
      if (!(raw.socket instanceof Socket)) return
      response.setTimeout(options.sendTimeoutMs, () => {
        const socket = response.socket
        if (socket && !response.writableFinished && socket.writableLength > 0) socket.destroy()
      })
    })
  },
  { name: 'moodlog-send-timeout' },
)
