import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram } from 'prom-client'
import * as q from './queries.js'
import { tableQueue } from './queue.js'
import webhooksRoutes from './routes.js'
import { httpTransport } from './send.js'
import { systemResolver, type TargetPolicy } from './target.js'
import { WebhookWorker, type WorkerMetrics, type WorkerOptions } from './worker.js'

export interface Webhooks {
  /** The SSRF policy of registration and delivery; `resolve` is replaceable (tests). */
  readonly policy: TargetPolicy
  /** This instance's worker; started with the app unless WEBHOOKS=off. */
  readonly worker: WebhookWorker
  /** Another worker on the same queue and policy, e.g. driven by `runOnce` with a test clock. */
  createWorker(overrides?: Partial<WorkerOptions>): WebhookWorker
  /** Wakes every worker of this app: a delivery was just committed (a test event, a retry). */
  nudge(): void
}

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: Webhooks
  }
}

function installWebhookMetrics(app: FastifyInstance): WorkerMetrics {
  const registers = [app.metrics.registry]
  const attempts = new Counter({
    name: 'moodlog_webhook_attempts_total',
    help: 'Webhook delivery attempts by result (success, http_error, timeout, network_error, refused)',
    labelNames: ['result'],
    registers,
  })
  const deliveries = new Counter({
    name: 'moodlog_webhook_deliveries_total',
    help: 'Webhook deliveries finished, by outcome (succeeded, or failed after the last retry or a 410)',
    labelNames: ['outcome'],
    registers,
  })
  const duration = new Histogram({
    name: 'moodlog_webhook_attempt_duration_seconds',
    help: 'Time from starting a webhook attempt to its answer or failure',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers,
  })
  // Read from the queue when scraped: the same numbers whichever instance is asked.
  let stats: Promise<q.QueueStats> | undefined
  const queueStats = () => (stats ??= q.queueStats(app.db).finally(() => setImmediate(() => (stats = undefined))))
  new Gauge({
    name: 'moodlog_webhook_pending_deliveries',
    help: 'Webhook deliveries waiting for their next attempt (all instances)',
    registers,
    async collect() {
      this.set((await queueStats()).pending)
    },
  })
  new Gauge({
    name: 'moodlog_webhook_oldest_pending_age_seconds',
    help: 'Age of the oldest pending webhook delivery (0 when none)',
    registers,
    async collect() {
      const { oldest } = await queueStats()
      this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest.getTime()) / 1000))
    },
  })
  return {
    attempted(result, seconds) {
      attempts.inc({ result })
      duration.observe(seconds)
    },
    finished(outcome) {
      deliveries.inc({ outcome })
    },
  }
}

/**
 * Webhook endpoints (routes), the delivery worker of this instance and its metrics. The worker
 * stops leasing as soon as the instance drains; at close, attempts in flight get what is left
 * of the shutdown budget, then are interrupted and handed back (their lease would expire anyway).
 */
export const webhooksPlugin = fp(
  async function webhooks(app: FastifyInstance) {
    const config = app.config
    const policy: TargetPolicy = {
      allowHttp: config.webhooksAllowHttp,
      allowPrivate: config.webhooksAllowPrivateTargets,
      resolve: systemResolver,
    }
    const metrics = installWebhookMetrics(app)
    const queue = tableQueue(app.db)
    const mayLease = () => !app.lifecycle.draining
    // Every worker of this app, so that a delivery queued by a route is picked up at once by whichever runs.
    const workers = new Set<WebhookWorker>()
    const nudge = () => {
      for (const w of workers) w.nudge()
    }
    const createWorker = (overrides: Partial<WorkerOptions> = {}) => {
      const created = new WebhookWorker({
        db: app.db,
        queue,
        log: app.log.child({ component: 'webhooks' }),
        // Through the policy object, so a replaced resolver applies to workers made before.
        policy: {
          get allowHttp() {
            return policy.allowHttp
          },
          get allowPrivate() {
            return policy.allowPrivate
          },
          resolve: (host) => policy.resolve(host),
        },
        transport: httpTransport,
        concurrency: config.webhooksConcurrency,
        metrics,
        mayLease,
        ...overrides,
      })
      workers.add(created)
      return created
    }
    const worker = createWorker()
    app.decorate('webhooks', { policy, worker, createWorker, nudge } satisfies Webhooks)
    await app.register(webhooksRoutes)

    if (!config.webhooksEnabled) return
    app.addHook('onReady', async () => worker.start())
    // Registered after the database's own onClose, so this runs first (children close before parents).
    app.addHook('onClose', async () => {
      const budgetMs = config.shutdownTimeoutSeconds * 1000
      // From the lifecycle, not from the worker's last lease: with every slot busy it asks for none.
      const drainingSince = app.lifecycle.drainingSince
      const spent = drainingSince === undefined ? 0 : Date.now() - drainingSince
      // What is left after the grace hands interrupted deliveries back and closes the database
      // before the shutdown budget kills the process: half of a short budget, 3 s of a long one.
      const reserveMs = Math.min(budgetMs / 2, 3000)
      await worker.stop(Math.max(0, budgetMs - reserveMs - spent))
    })
  },
  { name: 'moodlog-webhooks', dependencies: ['moodlog-core', 'moodlog-lifecycle', 'moodlog-metrics', 'moodlog-auth'] },
)
