import net from 'node:net'

/** A loopback TCP proxy that can be cut and restored: a database "outage" without touching the shared server. */
export class TcpProxy {
  private server: net.Server | undefined
  private sockets = new Set<net.Socket>()
  /** Connections accepted while stalled: held open, never forwarded. */
  private held = new Set<net.Socket>()
  private stalled = false
  port = 0

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      if (this.stalled) {
        this.held.add(client)
        client.on('error', () => client.destroy())
        client.on('close', () => this.held.delete(client))
        return
      }
      const upstream = net.connect(this.targetPort, this.targetHost)
      for (const socket of [client, upstream]) {
        this.sockets.add(socket)
        socket.on('close', () => this.sockets.delete(socket))
        socket.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }

  /**
   * A database that stops answering: the open connections are cut (as a stopping server does) and
   * new ones are accepted but never answered, so only a client-side timeout ends them.
   */
  stall(): void {
    this.stalled = true
    for (const socket of this.sockets) socket.destroy()
  }

  /** Answers again; the connections held while stalled are cut. */
  resume(): void {
    this.stalled = false
    for (const socket of this.held) socket.destroy()
  }

  /** Refuses new connections and resets the open ones. */
  async stop(): Promise<void> {
    for (const socket of [...this.sockets, ...this.held]) socket.destroy()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    this.server = undefined
  }
}
