import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { currentUser } from '../auth/plugin.js'
import { sendCached } from '../cache/send-cached.js'
import * as schemas from './schemas.js'
import { getStats, timeZoneCatalog, type StatsDeps } from './service.js'

const statsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps: StatsDeps = { db: app.db, zones: timeZoneCatalog(app.db) }

  app.get(
    '/stats',
    {
      preParsing: app.authenticate,
      config: { openapi: { responses: { 200: 'Statistics of the window, and the streaks' } } },
      schema: {
        operationId: 'getStats',
        tags: ['stats'],
        summary: 'Mood statistics per bucket and per category, and daily streaks',
        description:
          'Entries with `from` <= occurredAt < `to` (both optional) are grouped by local day, ISO week or month in `tz`. ' +
          'Streaks count consecutive local days with at least one entry over all entries, regardless of the window.',
        security: [{ bearerAuth: [] }],
        querystring: schemas.StatsQuery,
        response: { 200: schemas.Stats },
      },
    },
    async (request, reply) => {
      const { userId } = currentUser(request)
      // Cached per user until their next write (or CACHE_TTL_SECONDS, which also bounds how long
      // the current streak can lag behind a local midnight). getStats validates inside `load`: a
      // rejected query is never stored, so a hit is always a good answer to the same query.
      return sendCached(reply, app.cache, {
        userId,
        kind: 'stats:body',
        params: request.query,
        load: () => getStats(deps, userId, request.query),
      })
    },
  )
}

export default statsRoutes
