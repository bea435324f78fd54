import { Worker } from 'node:worker_threads'
import type { EmbeddedEngine } from './embedded-database.js'
import { reviveError, type Reply, type Request, type Started, type WorkerSource } from './embedded-protocol.js'
import { DatabaseUnavailableError } from './errors.js'
import type { Row } from './types.js'

type Call = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never

export interface WorkerHooks {
  /**
   * Called once if the worker ends without being closed (a crash, an exit, out of memory). Every
   * pending and later call has been rejected with `DatabaseUnavailableError` by then.
   */
  onExit(error: DatabaseUnavailableError): void
  /** Sees the worker once started (a test seam: tests terminate it to play a crash). */
  onStart?(worker: Worker): void
}

/**
 * The worker, from the source tree or from dist/. Node 20 gives a worker no TypeScript loader of
 * its own, so under tsx (tests, `npm run dev`, `npm run cli`) a small bootstrap registers tsx in
 * the worker before importing the .ts entry; a build starts the compiled .js directly.
 */
function spawn(source: WorkerSource): Worker {
  const typescript = import.meta.url.endsWith('.ts')
  const entry = new URL(`./embedded-worker.${typescript ? 'ts' : 'js'}`, import.meta.url)
  if (!typescript) return new Worker(entry, { workerData: source })
  const tsx = import.meta.resolve('tsx/esm/api')
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(bootstrap, { eval: true, workerData: source })
}

/** Starts the worker that owns PGlite and resolves once its database is open. */
export async function startWorkerEngine(source: WorkerSource, hooks: WorkerHooks): Promise<EmbeddedEngine> {
  const worker = spawn(source)
  hooks.onStart?.(worker)
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  let nextId = 1
  let closed = false
  let dead: DatabaseUnavailableError | undefined
  let crash: unknown

  await new Promise<void>((resolve, reject) => {
    const started = (message: Started) => {
      worker.off('exit', exitedEarly)
      if (message.ready) resolve()
      else reject(reviveError(message.error))
    }
    const exitedEarly = (code: number) =>
      reject(new DatabaseUnavailableError(crash ?? new Error(`the embedded database worker exited (${code})`)))
    worker.once('message', started)
    worker.once('exit', exitedEarly)
    // Without a listener, a worker's uncaught error would be thrown on this thread.
    worker.on('error', (error) => (crash = error))
  }).catch(async (error) => {
    await worker.terminate()
    throw error
  })

  worker.on('message', (reply: Reply) => {
    const call = pending.get(reply.id)
    if (!call) return
    pending.delete(reply.id)
    if (reply.ok) call.resolve(reply.value)
    else call.reject(reviveError(reply.error))
  })
  worker.on('exit', (code) => {
    const wanted = closed
    dead = new DatabaseUnavailableError(crash ?? new Error(`the embedded database worker ${wanted ? 'was closed' : `exited (${code})`}`))
    for (const call of pending.values()) call.reject(dead)
    pending.clear()
    if (!wanted) hooks.onExit(dead)
  })

  const call = <T>(request: Call): Promise<T> => {
    if (dead) return Promise.reject(dead)
    const id = nextId++
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      try {
        worker.postMessage({ ...request, id })
      } catch (error) {
        // A parameter structured clone cannot copy (a function, a symbol): this call fails, nothing else.
        pending.delete(id)
        reject(error as Error)
      }
    })
  }

  return {
    query: (text, params) => call<Row[]>({ op: 'query', text, params }),
    async transaction(fn) {
      const tx = await call<number>({ op: 'begin' })
      let value
      try {
        value = await fn({
          query: (text, params = []) => call({ op: 'txQuery', tx, text, params }),
          exec: (script) => call({ op: 'txExec', tx, script }),
        })
      } catch (error) {
        // Waited for, as PGlite does in-process: the next statement runs after the rollback.
        await call({ op: 'rollback', tx }).catch(() => {})
        throw error
      }
      await call({ op: 'commit', tx })
      return value
    },
    get closed() {
      return closed
    },
    async close() {
      if (closed) return
      try {
        if (!dead) await call({ op: 'close' })
      } finally {
        closed = true
        await worker.terminate()
      }
    },
    async abandon() {
      closed = true
      // Ending the thread stops PGlite where it is: nothing more reaches the directory.
      await worker.terminate()
    },
  }
}
