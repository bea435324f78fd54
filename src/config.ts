import net from 'node:net'
import path from 'node:path'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  port: number
  host: string
  /** Unset → embedded PGlite in `dataDir`. */
  databaseUrl: string | undefined
  dataDir: string
  /** Unset → in-process cache, rate limits and revocations. */
  redisUrl: string | undefined
  /** Required in server mode; in embedded mode generated once and kept in `dataDir`. */
  jwtSecret: string | undefined
  accessTokenTtlSeconds: number
  refreshTokenTtlSeconds: number
  rateLimitMax: number
  rateLimitWindowSeconds: number
  /** Sign-ups per client address per window (each costs a password hash); 0: only the general limit. */
  signupRateLimitMax: number
  signupRateLimitWindowSeconds: number
  /** Fastify's `trustProxy`: false, true (every hop), a hop count, or proxy addresses and CIDR ranges. */
  trustProxy: boolean | number | string[]
  requestTimeoutSeconds: number
  shutdownTimeoutSeconds: number
  migrateOnStart: boolean
  logLevel: LogLevel
  /** Allowed CORS origins; empty → CORS disabled (same-origin only). `*` allows any. */
  corsOrigins: string[]
  /** Pool size for the Postgres server connection pool. */
  databasePoolSize: number
  /** Connections for list pages and counts, apart from the main pool. */
  databaseScanPoolSize: number
  /** Connections of the point-read lane (single-row reads by key). */
  databasePointPoolSize: number
  /** Server mode: TCP connect plus authentication of a new connection. */
  databaseConnectTimeoutSeconds: number
  /** Server mode: longest wait for a free pool connection before a request is answered 503. */
  databaseAcquireTimeoutSeconds: number
  /** Server mode: connection failures in a row after which requests fail at once until a probe succeeds. */
  databaseBreakerThreshold: number
  /** Prefix of every Redis key, so several deployments (or test runs) can share one Redis. */
  redisKeyPrefix: string
  /** Per-user read cache of list pages, counts and statistics (`CACHE=off` for benchmarks). */
  cacheEnabled: boolean
  cacheTtlSeconds: number
  /** The in-process cache's budget for cached pages (no effect with Redis, which has `maxmemory`). */
  cacheMemoryMb: number
  /** Largest file `POST /import` accepts, in bytes. */
  importMaxBytes: number
  /** Largest jrnl JSON file `POST /import` accepts: one JSON document is parsed whole, so far less than the streamed formats. */
  importJrnlMaxBytes: number
  /** How long one `POST /import` may take, upload included (REQUEST_TIMEOUT_SECONDS is for ordinary requests). */
  importTimeoutSeconds: number
  /** After BODY_TIMEOUT_SECONDS, an import's upload must have averaged this many bytes a second since its headers. */
  importMinBytesPerSecond: number
  /** Set → `/metrics` is served only on this port (keep it off the public listener); unset → on PORT. */
  metricsPort: number | undefined
  /** The built web UI (Vite's output); unset → `dist/web` of this installation. */
  webDir: string | undefined
  /** Set → `/metrics` answers only requests carrying `Authorization: Bearer <token>`. */
  metricsToken: string | undefined
  /** The request line and headers must arrive within this many seconds of a request's first byte. */
  headersTimeoutSeconds: number
  /** A request's body must arrive within this many seconds of its headers (an import's: see importMinBytesPerSecond). */
  bodyTimeoutSeconds: number
  /** An idle kept-alive connection is closed after this many seconds. */
  keepAliveTimeoutSeconds: number
  /** Connections beyond this many are closed as soon as they are accepted. */
  maxConnections: number
  /** The webhook delivery worker of this instance (`WEBHOOKS=off`: events are still queued, for other instances). */
  webhooksEnabled: boolean
  /** Webhook deliveries this instance sends at once. */
  webhooksConcurrency: number
  /** Webhook URLs may use plain http. */
  webhooksAllowHttp: boolean
  /** Webhooks may target loopback, private and link-local addresses: unsafe on a shared host. */
  webhooksAllowPrivateTargets: boolean
  webhooksMaxPerUser: number
}

export class ConfigError extends Error {
  override name = 'ConfigError'
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`)
  }
}

type Env = Record<string, string | undefined>

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim()
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase()
  if (raw === undefined || raw === '') return fallback
  if (['true', '1', 'yes', 'on'].includes(raw)) return true
  if (['false', '0', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(name, `must be true or false, got "${env[name]}"`)
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name]?.trim()
  if (raw === undefined || raw === '') return undefined
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(name, `is not a valid URL (expected ${protocols[0]}//user@host:port/name)`)
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.join(' or ')}, got "${parsed.protocol}"`)
  }
  if (!parsed.hostname && !parsed.searchParams.has('host')) throw new ConfigError(name, 'has no host')
  return raw
}

function redisKeyPrefix(env: Env): string {
  const prefix = env.REDIS_KEY_PREFIX?.trim() || 'moodlog:'
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(prefix)) {
    throw new ConfigError('REDIS_KEY_PREFIX', `may only contain letters, digits and : _ . - (got "${prefix}")`)
  }
  return prefix
}

function metricsToken(env: Env): string | undefined {
  const token = env.METRICS_TOKEN?.trim()
  if (token === undefined || token === '') return undefined
  // Sent as a bearer token: visible ASCII, and long enough not to be guessed.
  if (!/^[\x21-\x7E]{16,256}$/.test(token)) {
    throw new ConfigError('METRICS_TOKEN', 'must be 16 to 256 visible ASCII characters (e.g. `openssl rand -hex 24`)')
  }
  return token
}

function trustProxy(env: Env): boolean | number | string[] {
  const raw = env.TRUST_PROXY?.trim() ?? ''
  if (raw === '') return false
  if (/^\d+$/.test(raw)) return integer(env, 'TRUST_PROXY', 0, 0, 100)
  if (/^[a-z]+$/i.test(raw)) return boolean(env, 'TRUST_PROXY', false)
  const entries = raw.split(',').map((entry) => entry.trim())
  for (const entry of entries) {
    const [address = '', prefix, ...rest] = entry.split('/')
    const family = net.isIP(address)
    const bits = family === 4 ? 32 : 128
    if (!family || rest.length > 0 || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= bits))) {
      throw new ConfigError(
        'TRUST_PROXY',
        `must be true, false, a hop count or comma-separated proxy addresses/CIDR ranges, got "${entry}"`,
      )
    }
  }
  return entries
}

/**
 * Loads `.env` (or `file`) into `process.env` when it exists, for `server.ts` and `cli.ts` only:
 * variables already set in the environment win. Tests never call it.
 */
export function loadEnvFile(file = '.env'): boolean {
  try {
    process.loadEnvFile(file)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

/** Reads and validates the environment once; throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'])
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:'])

  const jwtSecret = env.JWT_SECRET?.trim() || undefined
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes long (e.g. `openssl rand -base64 48`)')
  }
  if (databaseUrl !== undefined && jwtSecret === undefined) {
    throw new ConfigError('JWT_SECRET', 'is required when DATABASE_URL is set (instances must share one secret)')
  }

  const logLevel = (env.LOG_LEVEL?.trim().toLowerCase() || 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`)
  }

  const host = env.HOST?.trim() || '127.0.0.1'
  const dataDir = path.resolve(env.DATA_DIR?.trim() || './data')
  const corsOrigins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean)
  for (const origin of corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError('CORS_ORIGINS', `must be a comma-separated list of origins like https://app.example.com, got "${origin}"`)
    }
  }

  const port = integer(env, 'PORT', 3000, 0, 65535)
  const metricsPort = env.METRICS_PORT?.trim() ? integer(env, 'METRICS_PORT', 0, 0, 65535) : undefined
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === port) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${port})`)
  }

  const headersTimeoutSeconds = integer(env, 'HEADERS_TIMEOUT_SECONDS', 10, 1, 600)
  const bodyTimeoutSeconds = integer(env, 'BODY_TIMEOUT_SECONDS', 18, 1, 600)
  // Slow headers and then a slow body make the documented worst case of a connection (about 29 s
  // by default); a header bound above the body's would make that case the headers' alone.
  if (headersTimeoutSeconds > bodyTimeoutSeconds) {
    throw new ConfigError('HEADERS_TIMEOUT_SECONDS', `must not exceed BODY_TIMEOUT_SECONDS (${bodyTimeoutSeconds})`)
  }

  return {
    port,
    host,
    databaseUrl,
    dataDir,
    redisUrl,
    jwtSecret,
    accessTokenTtlSeconds: integer(env, 'ACCESS_TOKEN_TTL_SECONDS', 900, 1, 86_400),
    refreshTokenTtlSeconds: integer(env, 'REFRESH_TOKEN_TTL_SECONDS', 2_592_000, 60, 31_536_000),
    // 0 turns the general limit off (login throttling stays).
    rateLimitMax: integer(env, 'RATE_LIMIT_MAX', 100, 0, 1_000_000_000),
    rateLimitWindowSeconds: integer(env, 'RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400),
    signupRateLimitMax: integer(env, 'SIGNUP_RATE_LIMIT_MAX', 10, 0, 1_000_000_000),
    signupRateLimitWindowSeconds: integer(env, 'SIGNUP_RATE_LIMIT_WINDOW_SECONDS', 3600, 1, 86_400),
    trustProxy: trustProxy(env),
    requestTimeoutSeconds: integer(env, 'REQUEST_TIMEOUT_SECONDS', 10, 1, 600),
    shutdownTimeoutSeconds: integer(env, 'SHUTDOWN_TIMEOUT_SECONDS', 10, 1, 600),
    migrateOnStart: boolean(env, 'MIGRATE_ON_START', true),
    logLevel,
    corsOrigins,
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    databaseScanPoolSize: integer(env, 'DATABASE_SCAN_POOL_SIZE', 2, 1, 1000),
    databasePointPoolSize: integer(env, 'DATABASE_POINT_POOL_SIZE', 1, 1, 1000),
    databaseConnectTimeoutSeconds: integer(env, 'DB_CONNECT_TIMEOUT_SECONDS', 2, 1, 60),
    databaseAcquireTimeoutSeconds: integer(env, 'DB_ACQUIRE_TIMEOUT_SECONDS', 2, 1, 60),
    databaseBreakerThreshold: integer(env, 'DB_BREAKER_THRESHOLD', 5, 1, 1000),
    redisKeyPrefix: redisKeyPrefix(env),
    cacheEnabled: boolean(env, 'CACHE', true),
    cacheTtlSeconds: integer(env, 'CACHE_TTL_SECONDS', 60, 1, 86_400),
    cacheMemoryMb: integer(env, 'CACHE_MEMORY_MB', 64, 1, 65_536),
    metricsPort,
    webDir: env.WEB_DIR?.trim() ? path.resolve(env.WEB_DIR.trim()) : undefined,
    metricsToken: metricsToken(env),
    headersTimeoutSeconds,
    bodyTimeoutSeconds,
    keepAliveTimeoutSeconds: integer(env, 'KEEP_ALIVE_TIMEOUT_SECONDS', 72, 1, 600),
    maxConnections: integer(env, 'MAX_CONNECTIONS', 1024, 1, 1_000_000),
    webhooksEnabled: boolean(env, 'WEBHOOKS', true),
    webhooksConcurrency: integer(env, 'WEBHOOKS_CONCURRENCY', 4, 1, 256),
    webhooksAllowHttp: boolean(env, 'WEBHOOKS_ALLOW_HTTP', false),
    webhooksAllowPrivateTargets: boolean(env, 'WEBHOOKS_ALLOW_PRIVATE_TARGETS', false),
    webhooksMaxPerUser: integer(env, 'WEBHOOKS_MAX_PER_USER', 10, 1, 1000),
    importMaxBytes: integer(env, 'IMPORT_MAX_BYTES', 50 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    importJrnlMaxBytes: integer(env, 'IMPORT_JRNL_MAX_BYTES', 10 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    importTimeoutSeconds: integer(env, 'IMPORT_TIMEOUT_SECONDS', 600, 1, 3600),
    importMinBytesPerSecond: integer(env, 'IMPORT_MIN_BYTES_PER_SECOND', 16 * 1024, 1, 1024 * 1024 * 1024),
  }
}
