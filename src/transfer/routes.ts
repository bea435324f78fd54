import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { currentUser } from '../auth/plugin.js'
import { badRequest } from '../http/errors.js'
import { timeZoneCatalog, type TimeZoneCatalog } from '../stats/service.js'
import { EXPORT_MEDIA, exportChunks } from './export.js'
import * as schemas from './schemas.js'

const security = [{ bearerAuth: [] }]
const tags = ['transfer']

/** The canonical name of a zone Postgres knows, or a 400 naming the parameter. */
export async function resolveZone(zones: TimeZoneCatalog, asked: string | undefined): Promise<string> {
  const name = asked ?? 'UTC'
  const tz = await zones.resolve(name)
  if (tz === undefined) {
    throw badRequest(`Unknown time zone \`${name}\`; use an IANA name such as Europe/Berlin.`, [
      { field: 'query.tz', message: 'is not a known IANA time zone' },
    ])
  }
  return tz
}

const transferRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const zones = timeZoneCatalog(app.db)

  app.get(
    '/export',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        operationId: 'exportEntries',
        summary: 'Download the whole journal as a file',
        description:
          'Streamed a page at a time, so any size exports in constant memory. Entries are in id order (NDJSON, CSV) ' +
          'or oldest first (Markdown). Every field travels: id, text, mood, category, occurredAt, createdAt, updatedAt ' +
          '(UTC, microseconds) and version; `POST /import` reads NDJSON and CSV back losslessly.',
        querystring: schemas.ExportQuery,
        response: { 200: schemas.ExportResponse },
      },
    },
    async (request, reply) => {
      const { userId } = currentUser(request)
      const { format } = request.query
      const tz = await resolveZone(zones, request.query.tz)
      const exportedAt = new Date()
      const chunks = exportChunks(app.db.scans, userId, { format, tz, exportedAt })
      // The first chunk is taken here: a failure before anything was sent is still a problem+json answer.
      const first = await chunks.next()
      const body = Readable.from(
        (async function* () {
          if (!first.done) yield first.value
          yield* chunks
        })(),
        { objectMode: false },
      )
      const { contentType, extension } = EXPORT_MEDIA[format]
      return reply
        .type(contentType)
        .header('content-disposition', `attachment; filename=moodlog-${exportedAt.toISOString().slice(0, 10)}.${extension}`)
        .header('cache-control', 'no-store')
        .send(body as never)
    },
  )
}

export default transferRoutes
