import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { PoolUsage } from '../db/index.js'
import { bearerChallenge, bearerUnauthorized } from './errors.js'
import { requestIdFrom } from './lifecycle.js'
import { PROBLEM_CONTENT_TYPE, problemOf } from './problem.js'

export interface AppMetrics {
  readonly registry: Registry
  /** Called by the general rate limiter for every request it rejects. */
  rateLimited(): void
  /** The separate metrics listener's address, when METRICS_PORT is set and the app is ready. */
  address(): AddressInfo | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics
  }
}

const METRICS_UNAUTHORIZED = 'Send `Authorization: Bearer <METRICS_TOKEN>`.'

/** With a token configured, a check of the `Authorization` header in constant time; without, everyone passes. */
function tokenCheck(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined) return () => true
  const expected = createHash('sha256').update(token).digest()
  return (header) => {
    const match = /^Bearer +(\S+) *$/i.exec(header ?? '')
    return match !== null && timingSafeEqual(createHash('sha256').update(match[1]!).digest(), expected)
  }
}

/** A bearer token was sent (well-formed or not): the challenge then says it was refused. */
const bearerSent = (header: string | undefined) => /^Bearer +\S/i.test(header ?? '')

/** Requests that matched no route share one label value, so scanners cannot explode the series count. */
const UNMATCHED = '<unmatched>'

/**
 * Prometheus metrics in a registry of this app's own (several apps in one process never mix).
 * Registered before the routes so its hooks see every request; plugins that depend on it add their
 * own series to `app.metrics.registry` (auth, webhooks). `/metrics` is served on the app's port, or
 * only on METRICS_PORT by a small listener opened and closed with the app.
 */
export const metricsPlugin = fp(
  async function metrics(app: FastifyInstance) {
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })

    const labelNames = ['method', 'route', 'status'] as const
    const requests = new Counter({ name: 'moodlog_http_requests_total', help: 'HTTP requests answered', labelNames, registers: [registry] })
    const duration = new Histogram({
      name: 'moodlog_http_request_duration_seconds',
      help: 'Time from receiving a request to finishing its response',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    })
    const rateLimitRejections = new Counter({
      name: 'moodlog_rate_limit_rejections_total',
      help: 'Requests refused with 429 by the general rate limit',
      registers: [registry],
    })

    // Read when scraped: the database and the cache keep their own numbers.
    // One series per pool: `main`, and in server mode `scans` (list pages and counts), `points` and `exports`.
    const poolGauge = (name: string, help: string, value: (usage: PoolUsage) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers: [registry],
        collect() {
          for (const usage of app.db.usage()) this.set({ pool: usage.pool }, value(usage))
        },
      })
    poolGauge('moodlog_db_pool_size', 'Connections the database pool may open (1 for embedded PGlite)', (u) => u.size)
    poolGauge('moodlog_db_pool_in_use', 'Connections busy with a statement or a transaction', (u) => Math.min(u.size, u.inFlight))
    poolGauge('moodlog_db_pool_waiting', 'Statements and transactions waiting for a connection', (u) => Math.max(0, u.inFlight - u.size))
    new Counter({
      name: 'moodlog_cache_hits_total',
      help: 'Per-user cache reads served from the cache',
      registers: [registry],
      collect() {
        this.reset()
        this.inc(app.cache.stats.hits)
      },
    })
    new Counter({
      name: 'moodlog_cache_misses_total',
      help: 'Per-user cache reads not answered from the cache (concurrent misses of one page share one load)',
      registers: [registry],
      collect() {
        this.reset()
        this.inc(app.cache.stats.misses)
      },
    })

    new Gauge({
      name: 'moodlog_cache_memory_bytes',
      help: 'Estimated bytes of cached pages held in process (bounded by CACHE_MEMORY_MB; 0 with Redis)',
      registers: [registry],
      collect() {
        this.set(app.stores.shared.pageBytes?.() ?? 0)
      },
    })

    app.addHook('onResponse', async (request, reply) => {
      const labels = { method: request.method, route: request.routeOptions.url ?? UNMATCHED, status: String(reply.statusCode) }
      requests.inc(labels)
      duration.observe(labels, reply.elapsedTime / 1000)
    })

    const { metricsPort } = app.config
    const listener = metricsPort === undefined ? undefined : metricsListener(app, registry, tokenCheck(app.config.metricsToken))
    app.decorate('metrics', {
      registry,
      rateLimited: () => rateLimitRejections.inc(),
      address: () => (listener?.address() as AddressInfo | null) ?? undefined,
    } satisfies AppMetrics)

    const droppedConnections = new Counter({
      name: 'moodlog_http_connections_dropped_total',
      help: 'Connections closed at once because MAX_CONNECTIONS were open',
      registers: [registry],
    })
    app.server.on('drop', () => droppedConnections.inc())

    const authorized = tokenCheck(app.config.metricsToken)
    if (listener === undefined) {
      app.get(
        '/metrics',
        {
          // 401 only when METRICS_TOKEN is set and the request does not carry it.
          config: { openapi: { errors: [401], headers: { 401: ['WWW-Authenticate'] } } },
          schema: {
            operationId: 'getMetrics',
            tags: ['operations'],
            summary: 'Prometheus metrics (text exposition format)',
            description: 'When the server sets `METRICS_TOKEN`, only with `Authorization: Bearer <METRICS_TOKEN>` (else 401).',
            response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
          },
        },
        async (request, reply) => {
          if (!authorized(request.headers.authorization))
            throw bearerUnauthorized(METRICS_UNAUTHORIZED, bearerSent(request.headers.authorization))
          return reply.type(registry.contentType).send(await registry.metrics())
        },
      )
      return
    }

    // Opened when the app is ready (before it listens), so a taken port fails the start.
    app.addHook('onReady', async () => {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject)
        listener.listen(metricsPort, app.config.host, () => {
          listener.off('error', reject)
          resolve()
        })
      })
      app.log.info({ address: listener.address() }, 'metrics listening')
    })
    app.addHook('onClose', async () => {
      if (!listener.listening) return
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()))
      // A scraper's keep-alive connection would otherwise hold the close open.
      listener.closeAllConnections()
      await closed
    })
  },
  { name: 'moodlog-metrics', dependencies: ['moodlog-core'] },
)

/** A bare HTTP listener answering only `GET /metrics`: nothing of the API is reachable on its port. */
function metricsListener(app: FastifyInstance, registry: Registry, authorized: (header: string | undefined) => boolean): Server {
  return createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    if (!authorized(request.headers.authorization)) {
      const body = JSON.stringify(
        problemOf(401, 'unauthorized', METRICS_UNAUTHORIZED, {
          instance: '/metrics',
          requestId: requestIdFrom(request.headers['x-request-id']),
        }),
      )
      response
        .writeHead(401, {
          'content-type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
          'www-authenticate': bearerChallenge(bearerSent(request.headers.authorization)),
        })
        .end(body)
      return
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: unknown) => {
        app.log.error({ err: error }, 'metrics collection failed')
        response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n')
      },
    )
  })
}
