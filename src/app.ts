import cors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from './config.js'
import { migrate, openDatabase, type Database } from './db/index.js'
import authPlugin from './auth/plugin.js'
import authRoutes from './auth/routes.js'
import entriesRoutes from './entries/routes.js'
import categoriesRoutes from './entries/categories.js'
import healthRoutes from './health/routes.js'
import statsRoutes from './stats/routes.js'
import transferRoutes from './transfer/routes.js'
import { withJwtSecret, type ResolvedConfig } from './auth/secret.js'
import { webhooksPlugin } from './webhooks/plugin.js'
import { lifecyclePlugin, requestIdFrom } from './http/lifecycle.js'
import { notFoundPlugin, problemPlugin } from './http/problem.js'
import { validationPlugin } from './http/validation.js'
import { userExists } from './cache/queries.js'
import { bodyTimeoutPlugin } from './http/body-timeout.js'
import { UserCache } from './cache/user-cache.js'
import { rateLimitPlugin } from './http/rate-limit.js'
import { docsPlugin } from './http/docs.js'
import { metricsPlugin } from './http/metrics.js'
import { securityHeaders, securityHeadersPlugin } from './http/security-headers.js'
import { sendTimeoutPlugin } from './http/send-timeout.js'
import { clientErrorHandler, frameworkErrorHandler } from './http/client-errors.js'
import { conventionsPlugin, RouteIndex } from './http/conventions.js'
import { openStores, type Stores } from './store/index.js'
import webUi from './ui/plugin.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated config, its JWT secret resolved (generated on first start in embedded mode). */
    config: ResolvedConfig
    db: Database
    stores: Stores
    cache: UserCache
    /** Null without Redis; health and readiness report it. */
    redisPing: (() => Promise<void>) | null
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
    // Opening the database and migrating it (moodlog-core) can outlast Fastify's 10 s plugin limit
    // on a busy machine or with a long migration; each step is bounded by its own timeouts instead.
    pluginTimeout: 0,
    // Slow clients (docs/OPERATIONS.md, "Timeouts and limits"): the headers must arrive in time,
    // checked every second; idle kept-alive connections are closed. Bodies are timed per request
    // (bodyTimeoutPlugin); the server's request timeout only bounds the longest, an import's.
    requestTimeout: (Math.max(config.bodyTimeoutSeconds, config.importTimeoutSeconds) + config.bodyTimeoutSeconds) * 1000,
    keepAliveTimeout: config.keepAliveTimeoutSeconds * 1000,
    http: { headersTimeout: config.headersTimeoutSeconds * 1000, connectionsCheckingInterval: CONNECTION_CHECK_INTERVAL_MS },
    // Errors made before routing are problem+json too.
    frameworkErrors: frameworkErrorHandler(headers),
    clientErrorHandler: clientErrorHandler(headers),
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Beyond the cap, a new connection is closed as soon as it is accepted (counted in the metrics).
  app.server.maxConnections = config.maxConnections

  // The plugin graph: each cross-cutting plugin is a named fastify-plugin that lists the plugins it
  // needs, so registering one too early fails at start. The order below also matters where hooks
  // must see routes added later (docs, metrics, conventions, web UI, rate limit) and for the order
  // of onRequest hooks.
  await app.register(validationPlugin)
  await app.register(bodyTimeoutPlugin, {
    bodyTimeoutMs: config.bodyTimeoutSeconds * 1000,
    uploadAbove: ONE_MEBIBYTE,
    uploadMinBytesPerSecond: config.importMinBytesPerSecond,
  })
  await app.register(sendTimeoutPlugin, { sendTimeoutMs: config.bodyTimeoutSeconds * 1000 })
  await app.register(problemPlugin)
  await app.register(corePlugin, { config, db: options.db })
  // Security headers first: every answer carries them, the shutdown and timeout 503s included.
  await app.register(securityHeadersPlugin, { headers })
  await app.register(lifecyclePlugin)
  await app.register(conventionsPlugin, { routes })

  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? true : config.corsOrigins,
      exposedHeaders: ['x-request-id', 'etag', 'location', 'retry-after'],
    })
  }

  // Before the API routes, whose paths it keeps out of its HTML fallback.
  await app.register(webUi)
  // Before every route: the OpenAPI document and the request metrics are collected as routes are added.
  await app.register(docsPlugin)
  await app.register(metricsPlugin)
  await app.register(healthRoutes)
  await app.register(authPlugin)
  await app.register(rateLimitPlugin)
  await app.register(notFoundPlugin, { routes })
  await app.register(authRoutes)
  await app.register(entriesRoutes)
  await app.register(categoriesRoutes)
  await app.register(statsRoutes)
  await app.register(transferRoutes)
  await app.register(webhooksPlugin)
  for (const plugin of options.plugins ?? []) await app.register(plugin)
  return app
}

/**
 * What every other plugin reads: the config (with its JWT secret, resolved here once), the
 * database (the caller's, or one opened and closed with the app), the stores and the user cache.
 */
const corePlugin = fp(
  async function core(app: FastifyInstance, options: { config: Config; db: Database | undefined }) {
    const { config } = options
    const db = options.db ?? (await openOwnedDatabase(app, config))
    app.decorate('config', await withJwtSecret(config))
    app.decorate('db', db)
    const stores = await openStores(config, app.log)
    app.decorate('stores', stores)
    app.addHook('onClose', () => stores.close())
    app.decorate('redisPing', stores.redis ? () => stores.shared.ping() : null)
    app.decorate(
      'cache',
      new UserCache(stores.shared, {
        enabled: config.cacheEnabled,
        ttlMs: config.cacheTtlSeconds * 1000,
        userExists: (userId) => userExists(db.points, userId),
      }),
    )
  },
  { name: 'moodlog-core' },
)

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
