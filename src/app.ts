import cors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { Config } from './config.js'
import { migrate, openDatabase, type Database } from './db/index.js'
import authPlugin from './auth/plugin.js'
import authRoutes from './auth/routes.js'
import entriesRoutes from './entries/routes.js'
import categoriesRoutes from './entries/categories.js'
import healthRoutes from './health/routes.js'
import statsRoutes from './stats/routes.js'
import transferRoutes from './transfer/routes.js'
import { installWebhooks } from './webhooks/plugin.js'
import { installLifecycleHooks, Lifecycle, requestIdFrom } from './http/lifecycle.js'
import { installNotFoundHandler, installProblemHandlers } from './http/problem.js'
import { installValidators } from './http/validation.js'
import { UserCache } from './cache/user-cache.js'
import { installRateLimit } from './http/rate-limit.js'
import { installDocs } from './http/docs.js'
import { installMetrics } from './http/metrics.js'
import { installSecurityHeaders, securityHeaders } from './http/security-headers.js'
import { clientErrorHandler, frameworkErrorHandler } from './http/client-errors.js'
import { installConventions, RouteIndex } from './http/conventions.js'
import { openStores, type Stores } from './store/index.js'
import webUi from './ui/plugin.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    db: Database
    stores: Stores
    cache: UserCache
    lifecycle: Lifecycle
    /** Set when Redis is configured; health and readiness report it. */
    redisPing?: () => Promise<void>
  }
}

export interface AppOptions {
  /** A database the caller opened (and will close); otherwise the app opens one from `config`. */
  db?: Database
  /** Fastify logger option; defaults to JSON logs at `config.logLevel`. */
  logger?: boolean | { level: string }
  /** Extra plugins registered after the app's own routes (tests, operational add-ons). */
  plugins?: FastifyPluginAsync[]
}

const ONE_MEBIBYTE = 1024 * 1024
/** How often Node checks the header and request timeouts: the bound on how late they are enforced. */
const CONNECTION_CHECK_INTERVAL_MS = 1000

/** Builds the app without listening: the same factory for `server.ts`, the CLI and tests. */
/**
 * Fastify's `trustProxy`, with a hop count as a function: Fastify 5.12 reads a bare number as
 * "trust no hop" (it cannot check the peer), which would silently key every client by the proxy.
 * The operator who sets a count vouches that moodlog is reachable only through those proxies.
 */
function trustedHops(trust: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_address, hop) => hop < trust : trust
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const headers = securityHeaders()
  const routes = new RouteIndex()
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    requestIdHeader: false,
    genReqId: (request) => requestIdFrom(request.headers['x-request-id']),
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    trustProxy: trustedHops(config.trustProxy),
    bodyLimit: ONE_MEBIBYTE,
    // The lifecycle hooks answer 503 problems while closing (Fastify's own 503 is not one).
    return503OnClosing: false,
    // Slow clients (docs/OPERATIONS.md, "Timeouts and limits"): the headers, then the whole
    // request, must arrive in time, checked every second; idle kept-alive connections are closed.
    requestTimeout: config.bodyTimeoutSeconds * 1000,
    keepAliveTimeout: config.keepAliveTimeoutSeconds * 1000,
    http: { headersTimeout: config.headersTimeoutSeconds * 1000, connectionsCheckingInterval: CONNECTION_CHECK_INTERVAL_MS },
    // Errors made before routing are problem+json too.
    frameworkErrors: frameworkErrorHandler(headers),
    clientErrorHandler: clientErrorHandler(headers),
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Beyond the cap, a new connection is closed as soon as it is accepted (counted in the metrics).
  app.server.maxConnections = config.maxConnections

  installValidators(app)
  installProblemHandlers(app)

  const db = options.db ?? (await openOwnedDatabase(app, config))
  app.decorate('config', config)
  app.decorate('db', db)
  app.decorate('lifecycle', new Lifecycle())
  const stores = await openStores(config, app.log)
  app.decorate('stores', stores)
  app.addHook('onClose', () => stores.close())
  app.decorate('redisPing', stores.redis ? () => stores.shared.ping() : undefined)
  app.decorate('cache', new UserCache(stores.shared, { enabled: config.cacheEnabled, ttlMs: config.cacheTtlSeconds * 1000, log: app.log }))
  // Security headers first: every answer carries them, the shutdown and timeout 503s included.
  installSecurityHeaders(app, headers)
  installLifecycleHooks(app, app.lifecycle, config.requestTimeoutSeconds * 1000)
  installConventions(app, routes)

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? true : config.corsOrigins,
      exposedHeaders: ['x-request-id', 'etag', 'location', 'retry-after'],
    })
  }

  // Before the API routes, whose paths it keeps out of its HTML fallback.
  await app.register(webUi)
  // Before every route: the OpenAPI document and the request metrics are collected as routes are added.
  await installDocs(app)
  await installMetrics(app)
  await app.register(healthRoutes)
  await app.register(authPlugin)
  await installRateLimit(app)
  installNotFoundHandler(app, routes)
  await app.register(authRoutes)
  await app.register(entriesRoutes)
  await app.register(categoriesRoutes)
  await app.register(statsRoutes)
  await app.register(transferRoutes)
  await installWebhooks(app)
  for (const plugin of options.plugins ?? []) await app.register(plugin)
  return app
}

async function openOwnedDatabase(app: FastifyInstance, config: Config): Promise<Database> {
  const db = await openDatabase(config, app.log)
  // onClose runs after in-flight requests have finished.
  app.addHook('onClose', async () => {
    await db.close()
  })
  if (config.migrateOnStart) {
    try {
      const result = await migrate(db)
      if (result.applied.length > 0) app.log.info({ from: result.from, to: result.to }, 'migrations applied')
    } catch (error) {
      await db.close()
      throw error
    }
  }
  return db
}
