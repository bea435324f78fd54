import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'

const Status = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  database: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  redis: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('disabled')]),
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

  /** 200 when every configured dependency answers (and, for readiness, the instance is not draining). */
  const report = async (reply: FastifyReply, draining: boolean) => {
    const deps = await dependencies()
    const ok = !draining && deps.database === 'up' && deps.redis !== 'down'
    return reply.code(ok ? 200 : 503).send({ status: ok ? ('ok' as const) : ('unavailable' as const), ...deps })
  }

  app.get(
    '/livez',
    {
      schema: {
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
      schema: {
        tags: ['health'],
        summary: 'Readiness: 503 while shutting down or while a dependency is down',
        response: { 200: Status, 503: Status },
      },
    },
    async (_request, reply) => report(reply, app.lifecycle.draining),
  )

  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Dependency status: database and Redis',
        response: { 200: Status, 503: Status },
      },
    },
    async (_request, reply) => report(reply, false),
  )
}

export default healthRoutes
