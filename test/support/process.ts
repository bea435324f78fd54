import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { preparedDataDir } from './data-dir.js'
import { createTestDatabase, testEnv, type BackendName } from './harness.js'

const root = path.resolve(import.meta.dirname, '../..')

export interface ServerProcess {
  url: string
  child: ChildProcess
  /** Everything the process wrote, stdout and stderr interleaved. */
  output(): string
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>
}

export interface RunResult {
  code: number | string
  output: string
}

/**
 * Test files run in parallel beside a browser on a 2-core machine: a Postgres connection can take
 * longer than the 2 s production default to open. Tests of the fail-fast set their own value.
 */
const CHILD_DEFAULTS = { DB_CONNECT_TIMEOUT_SECONDS: '10' }

/** Runs a TypeScript entry (tsx) with the test environment; resolves when it exits. */
export function runProcess(entry: string, args: string[], env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, entry), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...CHILD_DEFAULTS, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${entry} ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? signal ?? 'unknown', output })
    })
  })
}

/**
 * Starts `test/fixtures/server.ts` (the real `main()` plus test routes) on port 0 and resolves
 * once it listens. Rejects with its output if it exits first.
 */
export function startServerProcess(env: Record<string, string | undefined>, entry = 'test/fixtures/server.ts'): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, entry)], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...testEnv({ ...CHILD_DEFAULTS, LOG_LEVEL: 'info', PORT: '0', ...env }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')))
  return new Promise((resolve, reject) => {
    // Generous: tsx compiling the sources and PGlite loading its WebAssembly can take tens of
    // seconds while a browser test shares the two cores. A server that is broken fails faster (it exits).
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server did not start within 180 s:\n${output}`))
    }, 180_000)
    const onData = (chunk: Buffer) => {
      output += chunk
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve({ url: match[1], child, output: () => output, exited })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before listening:\n${output}`))
    })
  })
}

/**
 * Where a server process keeps its data on `backend`: a DATA_DIR of its own in a temp dir (as a
 * first start left it: initialised and migrated), or a fresh database on the Postgres server.
 * What removes it is pushed onto `cleanups`.
 */
export async function databaseEnv(backend: BackendName, cleanups: Array<() => Promise<unknown>>): Promise<Record<string, string>> {
  if (backend === 'pglite') {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-data-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    return { DATA_DIR: await preparedDataDir(dataDir) }
  }
  const testDb = await createTestDatabase('postgres')
  cleanups.push(() => testDb.drop())
  return { DATABASE_URL: testDb.url ?? '' }
}
