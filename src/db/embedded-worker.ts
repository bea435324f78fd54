/**
 * The worker thread that owns the embedded PGlite instance (started by embedded-thread.ts).
 * PGlite is Postgres in WebAssembly and runs its statements synchronously: on the main thread
 * every query would hold up HTTP parsing, JSON and password hashing callbacks (issue #16).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite, type Transaction } from '@electric-sql/pglite'
import { dumpRelationBytes, relationBytes, sharedBuffersFor, startParams } from './pglite-settings.js'
import { serializeError, type Reply, type Request, type Started, type WorkerSource } from './embedded-protocol.js'

interface Held {
  tx: Transaction
  /** Ends the transaction's callback: true commits, false rolls back. */
  finish(commit: boolean): void
  /** Settles once PGlite has run the COMMIT or ROLLBACK. */
  ended: Promise<unknown>
}

/** Thrown inside PGlite's transaction callback to make it roll back. */
const ROLLBACK = Symbol('rollback')

async function open(source: WorkerSource): Promise<PGlite> {
  let pg: PGlite
  if ('dataDir' in source) {
    pg = new PGlite(source.dataDir, { startParams: startParams(sharedBuffersFor(relationBytes(source.dataDir))) })
  } else {
    const { dump } = source
    pg = new PGlite({
      ...(dump ? { loadDataDir: new Blob([dump]) } : {}),
      startParams: startParams(sharedBuffersFor(dump ? dumpRelationBytes(dump) : 0)),
    })
  }
  await pg.waitReady
  return pg
}

function serve(pg: PGlite, port: NonNullable<typeof parentPort>): void {
  const held = new Map<number, Held>()
  const heldTx = (id: number) => {
    const entry = held.get(id)
    if (!entry) throw new Error(`no open transaction ${id}`)
    return entry
  }

  /**
   * Holds a transaction open inside PGlite's `transaction()` until the main thread commits or rolls
   * back. PGlite queues every other statement behind it, as it did on the main thread: one connection.
   */
  const begin = (id: number) =>
    new Promise<number>((begun, failed) => {
      let started = false
      let finish: (commit: boolean) => void = () => {}
      const decided = new Promise<boolean>((resolve) => (finish = resolve))
      const ended = pg.transaction(async (tx) => {
        started = true
        held.set(id, { tx, finish, ended })
        begun(id)
        if (!(await decided)) throw ROLLBACK
      })
      ended.catch((error) => {
        if (!started) failed(error)
      })
    })

  const end = async (id: number, commit: boolean) => {
    const entry = heldTx(id)
    held.delete(id)
    entry.finish(commit)
    try {
      await entry.ended
    } catch (error) {
      if (error !== ROLLBACK) throw error
    }
  }

  const handle = async (request: Request): Promise<unknown> => {
    switch (request.op) {
      case 'query':
        return (await pg.query(request.text, request.params as unknown[])).rows
      case 'begin':
        return begin(request.id)
      case 'txQuery':
        return (await heldTx(request.tx).tx.query(request.text, request.params as unknown[])).rows
      case 'txExec':
        await heldTx(request.tx).tx.exec(request.script)
        return undefined
      case 'commit':
        return end(request.tx, true)
      case 'rollback':
        return end(request.tx, false)
      case 'close':
        if (!pg.closed) {
          // PGlite does not fsync as it goes; a checkpoint leaves the directory consistent.
          await pg.exec('CHECKPOINT')
          await pg.close()
        }
        // The main thread terminates this thread once it has the answer.
        return undefined
    }
  }

  const fail = (id: number, error: unknown) => port.postMessage({ id, ok: false, error: serializeError(error) } satisfies Reply)
  port.on('message', (request: Request) => {
    handle(request).then(
      (value) => {
        try {
          port.postMessage({ id: request.id, ok: true, value } satisfies Reply)
        } catch (error) {
          // A value structured clone cannot copy must fail its call, not the thread.
          fail(request.id, error)
        }
      },
      (error) => fail(request.id, error),
    )
  })
}

if (parentPort) {
  const port = parentPort
  try {
    serve(await open(workerData as WorkerSource), port)
    port.postMessage({ ready: true } satisfies Started)
  } catch (error) {
    port.postMessage({ ready: false, error: serializeError(error) } satisfies Started)
  }
}
