/**
 * What the browser tests share: a check that the build is fresh, a real `node dist/server.js` on
 * an embedded data directory of its own, Debian's Chromium driven by playwright-core (never a browser
 * download), and screenshots kept under test-results/ (gitignored).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before } from 'node:test'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'
import { preparedDataDir } from '../support/data-dir.js'

const root = path.resolve(import.meta.dirname, '../..')
export const SCREENSHOTS = path.join(root, 'test-results', 'screenshots')
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/** Generous for a loaded 2-core machine, but bounded: a broken screen fails instead of hanging. */
export const TIMEOUT_MS = 45_000

async function newestMtime(dir: string): Promise<number> {
  let newest = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, (await stat(path.join(entry.parentPath, entry.name))).mtimeMs)
  }
  return newest
}

/** The tests drive the built UI; a stale build would test yesterday's code, so they refuse it. */
export async function assertFreshBuild(): Promise<void> {
  const index = path.join(root, 'dist/web/index.html')
  const server = path.join(root, 'dist/server.js')
  if (!existsSync(index) || !existsSync(server)) {
    throw new Error('The browser tests need the built server and UI (dist/server.js, dist/web/index.html): run `npm run build` first.')
  }
  const built = (await stat(index)).mtimeMs
  const sources = Math.max(
    await newestMtime(path.join(root, 'web/src')),
    (await stat(path.join(root, 'web/index.html'))).mtimeMs,
    (await stat(path.join(root, 'web/vite.config.ts'))).mtimeMs,
  )
  if (sources > built) throw new Error('dist/web is older than web/src: run `npm run build` before the browser tests.')
}

export interface RunningServer {
  url: string
  output(): string
  stop(): Promise<void>
}

/** `node dist/server.js` on a free port with an embedded database in a new temporary DATA_DIR (initialised and migrated). */
export async function startServer(): Promise<RunningServer> {
  const dataDir = await preparedDataDir(await mkdtemp(path.join(os.tmpdir(), 'moodlog-web-')))
  const child = spawn(process.execPath, [path.join(root, 'dist/server.js')], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      RATE_LIMIT_MAX: '100000',
      SIGNUP_RATE_LIMIT_MAX: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`moodlog did not start within 180 s:\n${output}`))
    }, 180_000)
    const onData = (chunk: Buffer) => {
      output += chunk
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1])
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`moodlog exited before listening:\n${output}`))
    })
  })
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await exited
      }
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH.`)
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: TIMEOUT_MS,
  })
}

/** A context as a person in Berlin would have it; each test gets its own cookies. */
export async function newContext(browser: Browser, baseURL: string, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({
    baseURL,
    locale: 'en-GB',
    timezoneId: 'Europe/Berlin',
    viewport: { width: 1280, height: 900 },
    ...options,
  })
  context.setDefaultTimeout(TIMEOUT_MS)
  context.setDefaultNavigationTimeout(TIMEOUT_MS)
  return context
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** Requests to the API (not the page or its assets) made while `action` runs and the network settles. */
export async function apiRequestsDuring(page: Page, action: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = []
  const onRequest = (request: { url(): string; method(): string; resourceType(): string }) => {
    const url = new URL(request.url())
    if (request.resourceType() === 'fetch' || request.resourceType() === 'xhr') seen.push(`${request.method()} ${url.pathname}`)
  }
  page.on('request', onRequest)
  try {
    await action()
    await page.waitForLoadState('networkidle')
  } finally {
    page.off('request', onRequest)
  }
  return seen
}

export interface BrowserRig {
  readonly server: RunningServer
  readonly browser: Browser
}

/** One server and one browser for a test file: started (on a fresh build) before its tests, stopped after them. */
export function serverAndBrowser(): BrowserRig {
  let server: RunningServer | undefined
  let browser: Browser | undefined
  before(async () => {
    await assertFreshBuild()
    // Side by side: both mostly wait (a process starting, a browser launching).
    const [started, launched] = await Promise.allSettled([startServer(), launchBrowser()])
    if (started.status === 'fulfilled') server = started.value
    if (launched.status === 'fulfilled') browser = launched.value
    if (started.status === 'rejected') throw started.reason
    if (launched.status === 'rejected') throw launched.reason
  })
  after(async () => {
    await browser?.close()
    await server?.stop()
  })
  return {
    get server() {
      if (!server) throw new Error('server not started')
      return server
    },
    get browser() {
      if (!browser) throw new Error('browser not launched')
      return browser
    },
  }
}
