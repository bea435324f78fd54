import net from 'node:net'

export interface RawAnswer {
  /** 0 when the server closed the connection without answering. */
  status: number
  headers: Record<string, string>
  body: string
  /** Everything the server sent before closing. */
  raw: string
}

/** Parses the first HTTP/1.1 response in `raw` (headers lower-cased). */
export function parseResponse(raw: string): RawAnswer {
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0) return { status: 0, headers: {}, body: '', raw }
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const length = Number(headers['content-length'] ?? 0)
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: raw.slice(end + 4, end + 4 + length), raw }
}

/** A connection to a local port that collects what the server sends until it closes the connection. */
export class RawConnection {
  readonly socket: net.Socket
  private received = ''
  /** Resolves with everything received once the server has closed the connection (or reset it). */
  readonly closed: Promise<string>
  readonly connected: Promise<void>

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.setEncoding('latin1')
    this.socket.on('data', (chunk: string) => (this.received += chunk))
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve)
      this.socket.once('error', reject)
    })
    this.closed = new Promise((resolve) => {
      // A reset after the answer is fine: what was received before it counts.
      this.socket.on('error', () => {})
      this.socket.once('close', () => resolve(this.received))
    })
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data)
  }

  /** Resolves once at least one complete response head has arrived. */
  async firstResponse(): Promise<RawAnswer> {
    while (!this.received.includes('\r\n\r\n')) {
      const more = await Promise.race([
        new Promise<boolean>((resolve) => this.socket.once('data', () => resolve(true))),
        this.closed.then(() => false),
      ])
      if (!more) break
    }
    return parseResponse(this.received)
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** Sends `data` on a new connection and resolves with the answer once the server closes it. */
export async function exchange(port: number, data: string | Buffer): Promise<RawAnswer> {
  const connection = new RawConnection(port)
  await connection.connected
  connection.write(data)
  return parseResponse(await connection.closed)
}
