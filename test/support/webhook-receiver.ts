import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  headers: IncomingHttpHeaders
  body: string
  /** The response, for answers decided later (a receiver that "never answers" until told). */
  response: ServerResponse
}

/** What to do with the n-th request: status (and headers), or 'hang' to keep it open without answering. */
export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang'

/**
 * A webhook receiver on 127.0.0.1: records every request and answers from `answers` in order
 * (the last one repeats; default 200). `waitFor(n)` resolves once n requests have arrived.
 */
export async function startReceiver(answers: Answer[] = []) {
  const received: Received[] = []
  const waiters: Array<{ count: number; resolve: () => void }> = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), response })
      const answer = answers[received.length - 1] ?? answers.at(-1) ?? { status: 200 }
      if (answer !== 'hang') response.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? 'ok')
      for (const waiter of waiters.filter((w) => received.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    waitFor(count: number): Promise<void> {
      if (received.length >= count) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ count, resolve }))
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>
