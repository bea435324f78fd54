import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { Type } from 'typebox'

export const Status = Type.Object({
  status: Type.Enum(['ok', 'degraded', 'unavailable'], {
    type: 'string',
    description: '`degraded`: serving, but Redis is down (limits fail open, caches are skipped).',
  }),
  database: Type.Enum(['up', 'down'], { type: 'string' }),
  redis: Type.Enum(['up', 'down', 'disabled'], { type: 'string' }),
})

const PING_TIMEOUT_MS = 2000

async function within<T>(promise: Promise<T>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => false,
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Liveness (the process runs), readiness (it should get traffic) and a dependency report. */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const dependencies = async () => {
    const [database, redis] = await Promise.all([
      within(app.db.ping(), PING_TIMEOUT_MS),
      app.redisPing ? within(app.redisPing(), PING_TIMEOUT_MS) : Promise.resolve(undefined),
    ])
    return {
      database: database ? ('up' as const) : ('down' as const),
      redis: redis === undefined ? ('disabled' as const) : redis ? ('up' as const) : ('down' as const),
    }
  }

  /**
   * 200 while this instance can serve: the database answers (and, for readiness, it is not
   * draining). A Redis outage does not stop it serving (limits fail open, cache reads miss): it is
   * reported as `degraded`, not as unready, or a probe would take every instance out at once.
   */
  const report = async (reply: FastifyReply, draining: boolean) => {
    const deps = await dependencies()
    const serving = !draining && deps.database === 'up'
    const status = !serving ? ('unavailable' as const) : deps.redis === 'down' ? ('degraded' as const) : ('ok' as const)
    return reply.code(serving ? 200 : 503).send({ status, ...deps })
  }

  app.get(
    '/livez',
    {
      config: { openapi: { responses: { 200: 'The process is running' } } },
      schema: {
        operationId: 'getLiveness',
        tags: ['health'],
        summary: 'Liveness: the process is running',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/readyz',
    {
      config: { openapi: { responses: { 200: 'Ready for traffic', 503: 'Not ready: shutting down, or a dependency is down' } } },
      schema: {
        operationId: 'getReadiness',
        tags: ['health'],
        summary: 'Readiness: 503 while shutting down or while the database is unreachable',
        description: 'A Redis outage leaves the instance ready (status `degraded`): it still serves every request.',
        response: { 200: Status, 503: Status },
      },
    },
    async (_request, reply) => report(reply, app.lifecycle.draining),
  )

  app.get(
    '/health',
    {
      config: { openapi: { responses: { 200: 'Every configured dependency answers', 503: 'A dependency is down' } } },
      schema: {
        operationId: 'getHealth',
        tags: ['health'],
        summary: 'Dependency status: database and Redis',
        description: '503 when the database is unreachable; 200 with status `degraded` when only Redis is down.',
        response: { 200: Status, 503: Status },
      },
    },
    async (_request, reply) => report(reply, false),
  )
}

export default fp(healthRoutes, { name: 'moodlog-health', dependencies: ['moodlog-core', 'moodlog-lifecycle'], encapsulate: true })
