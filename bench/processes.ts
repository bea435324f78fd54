/**
 * Child processes of a benchmark run: every one is registered when spawned and stopped by
 * `stopAll()` (also on exit, signals and crashes), so a failed run leaves nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export const ROOT = path.resolve(import.meta.dirname, '..')

export interface Service {
  name: string
  url: string
  child: ChildProcess
  /** `performance.now()` when it was spawned (CPU profiles count from there). */
  startedAt: number
  /** The last lines it wrote (stdout and stderr), for error messages. */
  output(): string
  stop(): Promise<void>
}

const running = new Set<ChildProcess>()

const tempDirs = new Set<string>()

/** A directory the run made and must not leave behind, however it ends. */
export function removeOnExit(dir: string): void {
  tempDirs.add(dir)
}

function killNow(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
}

let installed = false
/** Stops every child on the way out, however the run ends. */
export function installCleanup(): void {
  if (installed) return
  installed = true
  process.on('exit', killNow)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping benchmark processes`)
      void stopAll().finally(() => process.exit(130))
    })
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** SIGTERM (graceful), then SIGKILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    // An unref'd timer: once the child is gone, nothing should keep the harness waiting.
    const done = await Promise.race([exited(child).then(() => true), sleep(graceMs, undefined, { ref: false }).then(() => false)])
    if (!done) {
      child.kill('SIGKILL')
      await exited(child)
    }
  }
  running.delete(child)
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child)))
}

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

export interface StartOptions {
  name: string
  /** Arguments to `node` (script and flags). */
  args: string[]
  env: Record<string, string | undefined>
  timeoutMs?: number
  /** Also append everything it writes to this file. */
  logFile?: string
}

/** Spawns `node …args` on a free port and resolves once `GET /readyz` answers 200. */
export async function startService(options: StartOptions): Promise<Service> {
  const port = await freePort()
  const startedAt = performance.now()
  const child = spawn(process.execPath, options.args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000)
    if (options.logFile) appendFileSync(options.logFile, chunk)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const url = `http://127.0.0.1:${port}`
  const service: Service = { name: options.name, url, child, startedAt, output: () => output, stop: () => stopChild(child) }

  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      running.delete(child)
      throw new Error(`${options.name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`)
    }
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })
      if (response.status === 200) {
        if (process.env.BENCH_VERBOSE) console.log(`  ${options.name} ready in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`)
        return service
      }
    } catch {
      // Not listening yet.
    }
    await sleep(100)
  }
  await stopChild(child, 1_000)
  throw new Error(`${options.name} was not ready within ${(options.timeoutMs ?? 60_000) / 1000} s:\n${output}`)
}

/** Runs a command to completion (inherits output); rejects on a non-zero exit. */
export function runToEnd(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
    running.add(child)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      running.delete(child)
      if (code === 0) resolve()
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal})`))
    })
  })
}

/** Resident set size of a process in MB (Linux /proc), or undefined elsewhere. */
export async function rssMegabytes(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}

/**
 * What of a moodlog process's RSS is V8's heap and what is outside it, from its own `/metrics`
 * (prom-client's process metrics): says whether memory after a load is the heap V8 sized for it.
 */
export async function memoryBreakdown(url: string): Promise<string | undefined> {
  try {
    const text = await (await fetch(new URL('/metrics', url), { signal: AbortSignal.timeout(10_000) })).text()
    const mb = (name: string) => {
      const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]
      return value === undefined ? '?' : (Number(value) / 1024 / 1024).toFixed(1)
    }
    return `heap ${mb('nodejs_heap_size_used_bytes')} MB used of ${mb('nodejs_heap_size_total_bytes')} MB, external ${mb('nodejs_external_memory_bytes')} MB`
  } catch {
    return undefined
  }
}
