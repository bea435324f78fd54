import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from './app.js'
import { ConfigError, loadConfig, loadEnvFile, type Config } from './config.js'
import { DataDirLockedError, DatabaseUnavailableError } from './db/index.js'

/**
 * Graceful shutdown: readiness turns 503 at once, new requests get 503 while in-flight ones
 * finish (bounded by most of the shutdown budget), and every answer carries `Connection: close`;
 * then Fastify closes, which closes the database and Redis. SIGTERM (what `docker stop` and
 * Kubernetes send) and SIGINT both start it.
 */
export async function drainAndClose(app: FastifyInstance, budgetMs: number): Promise<void> {
  app.lifecycle.draining = true
  // Kept-alive connections with no request on them are closed now, while the server still
  // listens: their clients reconnect (and are told to go elsewhere) instead of being reset later.
  if (app.server.listening) app.server.closeIdleConnections()
  const drained = await Promise.race([app.lifecycle.idle().then(() => true), sleep(budgetMs * 0.8).then(() => false)])
  if (!drained) app.log.warn({ inFlight: app.lifecycle.inFlight }, 'drain budget spent, closing anyway')
  await app.close()
}

function startupFailure(error: unknown): string {
  if (error instanceof ConfigError || error instanceof DataDirLockedError) return error.message
  if (error instanceof DatabaseUnavailableError)
    return `cannot reach the database: ${String((error.cause as Error)?.message ?? error.cause)}`
  return `failed to start: ${error instanceof Error ? error.message : String(error)}`
}

/** Reads the environment, starts listening and installs the signal handlers. */
export async function main(options: AppOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<FastifyInstance> {
  let config: Config
  let app: FastifyInstance
  try {
    config = loadConfig(env)
    app = await buildApp(config, options)
    await app.listen({ port: config.port, host: config.host })
  } catch (error) {
    console.error(`moodlog: ${startupFailure(error)}`)
    process.exit(1)
  }

  const budgetMs = config.shutdownTimeoutSeconds * 1000
  // Uncaught errors shut down too, exit code 1: among them the embedded database's
  // DataDirLockLostError (another process may own DATA_DIR now; the database already refuses statements)
  // and its DatabaseUnavailableError when PGlite's worker thread ends (every statement would be a 503).
  closeWithGrace({ delay: budgetMs, logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.fatal({ err }, 'fatal error, shutting down')
    app.log.info({ signal }, 'shutting down')
    await drainAndClose(app, budgetMs)
    app.log.info('shutdown complete')
  })
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  loadEnvFile()
  await main()
}
