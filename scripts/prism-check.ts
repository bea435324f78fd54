/**
 * `npm run api:prism`: every operation of the API, on its success and its error paths, through
 * Stoplight Prism's validating proxy in strict mode (`--errors`) in front of a moodlog on a
 * fresh embedded database. Exits 1 when Prism finds a response that its document does not
 * describe, or refuses a request that moodlog's document says is valid.
 *
 * Prism is fetched by npx on first use (it is a tool, not a dependency of moodlog); 5.14 is the
 * last release that runs on Node 20.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const PRISM = '@stoplight/prism-cli@5.14.2'
const PRISM_PORT = Number(process.env.PRISM_PORT ?? 4010)

interface Call {
  method: string
  path: string
  headers?: Record<string, string>
  body?: unknown
  /** A raw body with its own content type instead of JSON. */
  raw?: { type: string; text: string }
  /** Sent invalid on purpose: Prism may refuse it before moodlog sees it. */
  invalid?: boolean
}

interface Answer {
  status: number
  headers: Headers
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of every operation; the scenario reads a few fields
  json: any
}

const findings: string[] = []
let exchanges = 0

async function startProxy(upstream: string): Promise<ChildProcess> {
  const prism = spawn(
    'npx',
    ['--yes', PRISM, 'proxy', '--errors', '-h', '127.0.0.1', '-p', String(PRISM_PORT), `${upstream}/openapi.json`, upstream],
    // Its own process group: npx starts Prism as a child, and both must go when this script ends.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  )
  await new Promise<void>((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`Prism did not start within 180 s:\n${output}`)), 180_000)
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Prism is listening')) {
        clearTimeout(timer)
        resolve()
      }
    }
    prism.stdout.on('data', read)
    prism.stderr.on('data', read)
    prism.once('exit', (code) => reject(new Error(`Prism exited with ${code}:\n${output}`)))
  })
  return prism
}

function replayer(base: string) {
  return async function call({ method, path: url, headers = {}, body, raw, invalid }: Call): Promise<Answer> {
    const init: RequestInit = { method, headers: { ...headers }, redirect: 'manual' }
    if (raw) {
      init.headers = { ...headers, 'content-type': raw.type }
      init.body = raw.text
    } else if (body !== undefined) {
      init.headers = { ...headers, 'content-type': 'application/json' }
      init.body = JSON.stringify(body)
    }
    const response = await fetch(base + url, init)
    const text = await response.text()
    exchanges++
    const where = `${method} ${url} → ${response.status}`
    const violations = response.headers.get('sl-violations')
    if (violations) findings.push(`${where}: ${violations}`)
    // With --errors a response that breaks the document comes back as Prism's VIOLATIONS error;
    // a request Prism itself refuses (UNPROCESSABLE_ENTITY, UNAUTHORIZED) is excused only when sent invalid on purpose.
    const prismError = /stoplight\.io\/prism\/errors#([A-Z_]+)/.exec(text)?.[1]
    if (prismError === 'VIOLATIONS') findings.push(`${where}: the response breaks the document: ${text.slice(0, 600)}`)
    else if (prismError && !invalid) findings.push(`${where}: Prism refused a valid request: ${text.slice(0, 400)}`)
    let json: Answer['json']
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, headers: response.headers, json }
  }
}

async function scenario(call: ReturnType<typeof replayer>): Promise<void> {
  const email = `prism-${Date.now()}@example.com`
  const password = 'correct horse battery staple'
  await call({ method: 'GET', path: '/livez' })
  await call({ method: 'GET', path: '/readyz' })
  await call({ method: 'GET', path: '/health' })
  await call({ method: 'GET', path: '/metrics' })

  await call({ method: 'POST', path: '/register', body: { email, password } })
  await call({ method: 'POST', path: '/register', body: { email, password } })
  await call({ method: 'POST', path: '/register', body: { email: 'not an email', password: 'short' }, invalid: true })
  await call({ method: 'POST', path: '/login', body: { email, password: 'a wrong password' } })
  const signedIn = await call({ method: 'POST', path: '/login', body: { email, password } })
  const auth = { authorization: `Bearer ${signedIn.json.accessToken}` }
  await call({ method: 'GET', path: '/me', headers: auth })
  await call({ method: 'GET', path: '/me', invalid: true })
  await call({ method: 'GET', path: '/me', headers: { authorization: 'Bearer not-a-token' } })

  const entry = { text: 'A calm evening walk', mood: 7, category: 'outdoors' }
  const created = await call({ method: 'POST', path: '/entries', headers: { ...auth, 'idempotency-key': 'prism-1' }, body: entry })
  await call({ method: 'POST', path: '/entries', headers: { ...auth, 'idempotency-key': 'prism-1' }, body: entry })
  await call({ method: 'POST', path: '/entries', headers: { ...auth, 'idempotency-key': 'prism-1' }, body: { ...entry, mood: 2 } })
  await call({ method: 'POST', path: '/entries', headers: auth, body: { ...entry, occurredAt: '2024-05-01T21:30:00+02:00' } })
  await call({ method: 'POST', path: '/entries', headers: auth, body: { text: '', mood: 11 }, invalid: true })
  await call({ method: 'POST', path: '/entries', headers: auth, raw: { type: 'text/plain', text: 'hello' }, invalid: true })
  const id = created.json.id as number
  const etag = created.headers.get('etag')!
  await call({ method: 'GET', path: `/entries/${id}`, headers: auth })
  await call({ method: 'GET', path: `/entries/${id}`, headers: { ...auth, 'if-none-match': etag } })
  await call({ method: 'GET', path: '/entries/999999999', headers: auth })
  await call({ method: 'PATCH', path: `/entries/${id}`, headers: { ...auth, 'if-match': '"0"' }, body: { mood: 3 } })
  await call({ method: 'PATCH', path: `/entries/${id}`, headers: { ...auth, 'if-none-match': etag }, body: { mood: 3 } })
  const patched = await call({ method: 'PATCH', path: `/entries/${id}`, headers: { ...auth, 'if-match': etag }, body: { mood: 3 } })
  await call({ method: 'GET', path: '/entries', headers: auth })
  const page = await call({ method: 'GET', path: '/entries?limit=1', headers: auth })
  await call({ method: 'GET', path: `/entries?limit=1&cursor=${encodeURIComponent(page.json.nextCursor)}`, headers: auth })
  await call({ method: 'GET', path: '/entries?page=1&limit=5&q=walk&category=outdoors&minMood=1&maxMood=10', headers: auth })
  await call({ method: 'GET', path: '/entries?from=2024-01-01T00:00:00Z&to=2030-01-01T00:00:00Z', headers: auth })
  await call({ method: 'GET', path: '/entries?cursor=forged', headers: auth, invalid: true })
  await call({ method: 'GET', path: '/categories', headers: auth })
  await call({ method: 'GET', path: '/stats', headers: auth })
  await call({ method: 'GET', path: '/stats?bucket=week&tz=Europe/Berlin', headers: auth })
  await call({ method: 'GET', path: '/stats?bucket=month&from=2024-01-01T00:00:00Z&to=2030-01-01T00:00:00Z', headers: auth })
  await call({ method: 'GET', path: '/stats?tz=Nowhere/Else', headers: auth })

  for (const format of ['ndjson', 'csv', 'markdown']) await call({ method: 'GET', path: `/export?format=${format}`, headers: auth })
  await call({ method: 'GET', path: '/export', headers: auth })
  const line = JSON.stringify({ text: 'Imported', mood: 5, category: 'import', occurredAt: '2023-03-01T08:00:00Z' })
  await call({ method: 'POST', path: '/import?dryRun=true', headers: auth, raw: { type: 'application/x-ndjson', text: `${line}\n` } })
  await call({ method: 'POST', path: '/import', headers: auth, raw: { type: 'application/x-ndjson', text: `${line}\n` } })
  await call({ method: 'POST', path: '/import', headers: auth, raw: { type: 'application/x-ndjson', text: '{"text":"","mood":55}\n' } })
  await call({ method: 'POST', path: '/import?format=daylio', headers: auth, raw: { type: 'text/csv', text: 'a,b\n1,2\n' } })

  const hook = await call({
    method: 'POST',
    path: '/webhooks',
    headers: auth,
    body: { url: 'http://127.0.0.1:9/hook', description: 'prism' },
  })
  const hookId = hook.json.id as number
  await call({ method: 'POST', path: '/webhooks', headers: auth, body: { url: 'ftp://example.com/' } })
  await call({ method: 'GET', path: '/webhooks', headers: auth })
  await call({ method: 'GET', path: `/webhooks/${hookId}`, headers: auth })
  await call({ method: 'POST', path: `/webhooks/${hookId}/secret`, headers: auth })
  const queued = await call({ method: 'POST', path: `/webhooks/${hookId}/test`, headers: auth })
  await call({ method: 'GET', path: `/webhooks/${hookId}/deliveries`, headers: auth })
  await call({ method: 'POST', path: `/webhooks/${hookId}/deliveries/${queued.json.deliveryId}/retry`, headers: auth })
  await call({ method: 'POST', path: `/webhooks/${hookId}/deliveries/999999999/retry`, headers: auth })
  await call({ method: 'PATCH', path: `/webhooks/${hookId}`, headers: auth, body: { enabled: false } })
  await call({ method: 'POST', path: `/webhooks/${hookId}/test`, headers: auth })
  await call({ method: 'DELETE', path: `/webhooks/${hookId}`, headers: auth })
  await call({ method: 'GET', path: `/webhooks/${hookId}`, headers: auth })

  await call({ method: 'DELETE', path: `/entries/${id}`, headers: { ...auth, 'if-match': '"0"' } })
  await call({ method: 'DELETE', path: `/entries/${id}`, headers: { ...auth, 'if-match': patched.headers.get('etag')! } })
  await call({ method: 'DELETE', path: `/entries/${id}`, headers: auth })

  await call({
    method: 'PATCH',
    path: '/me/password',
    headers: auth,
    body: { currentPassword: 'not the password', newPassword: 'another long passphrase' },
  })
  const refreshed = await call({ method: 'POST', path: '/token/refresh', body: { refreshToken: signedIn.json.refreshToken } })
  await call({ method: 'POST', path: '/token/refresh', body: { refreshToken: signedIn.json.refreshToken } })
  const again = await call({ method: 'POST', path: '/login', body: { email, password } })
  await call({ method: 'POST', path: '/logout', body: { refreshToken: again.json.refreshToken } })
  await call({ method: 'POST', path: '/logout', body: { refreshToken: again.json.refreshToken } })
  await call({ method: 'POST', path: '/logout', body: { refreshToken: refreshed.json?.refreshToken ?? 'x' } })
  const last = await call({ method: 'POST', path: '/login', body: { email, password } })
  const lastAuth = { authorization: `Bearer ${last.json.accessToken}` }
  await call({ method: 'POST', path: '/logout/all', headers: lastAuth })
  const final = await call({ method: 'POST', path: '/login', body: { email, password } })
  await call({
    method: 'DELETE',
    path: '/me',
    headers: { authorization: `Bearer ${final.json.accessToken}` },
    body: { password: 'not the password' },
  })
  await call({ method: 'DELETE', path: '/me', headers: { authorization: `Bearer ${final.json.accessToken}` }, body: { password } })
}

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-prism-'))
const config = loadConfig({
  DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  RATE_LIMIT_MAX: '100000',
  SIGNUP_RATE_LIMIT_MAX: '100000',
  WEBHOOKS: 'off',
  WEBHOOKS_ALLOW_HTTP: 'true',
  WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true',
})
const app = await buildApp(config)
let prism: ChildProcess | undefined
try {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const upstream = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  prism = await startProxy(upstream)
  await scenario(replayer(`http://127.0.0.1:${PRISM_PORT}`))
} finally {
  try {
    if (prism?.pid) process.kill(-prism.pid)
  } catch {
    // Prism already exited.
  }
  await app.close()
  await rm(dataDir, { recursive: true, force: true })
}

console.log(`${exchanges} exchanges through Prism (${PRISM}, --errors)`)
if (findings.length > 0) {
  console.log(`${findings.length} finding(s):\n${findings.join('\n')}`)
  process.exitCode = 1
} else {
  console.log('no violations')
}
