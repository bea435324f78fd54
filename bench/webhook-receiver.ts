/** A webhook receiver on loopback for the create-webhook scenario: answers 200 at once and counts deliveries. */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Account } from './scenarios.js'
import type { Service } from './processes.js'

export interface Receiver {
  /** Where to register the endpoint. */
  url: string
  /** Deliveries received (and answered 200) so far. */
  readonly received: number
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  let received = 0
  const server = http.createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      if (request.method === 'POST') received += 1
      response.writeHead(200, { 'content-length': '0' }).end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/moodlog-webhook`,
    get received() {
      return received
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Registers `receiver` as the account's webhook endpoint (every entry event) through `POST /webhooks`. */
export async function subscribe(moodlog: Service, account: Account, receiver: Receiver): Promise<void> {
  const response = await fetch(`${moodlog.url}/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: account.authorization },
    body: JSON.stringify({ url: receiver.url, description: 'benchmark receiver' }),
  })
  if (response.status !== 201) throw new Error(`POST /webhooks on ${moodlog.name}: ${response.status} ${await response.text()}`)
}
