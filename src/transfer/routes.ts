import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { currentUser } from '../auth/plugin.js'
import { badRequest, bearerUnauthorized } from '../http/errors.js'
import { PROBLEM_CONTENT_TYPE, problemOf } from '../http/problem.js'
import { timeZoneCatalog, type TimeZoneCatalog } from '../stats/service.js'
import { EXPORT_MEDIA, exportChunks } from './export.js'
import { ndjsonPagesOf } from './export-pages.js'
import { exportSlots } from './export-slots.js'
import { entryCreatedEvents, importFile, type ImportFormat } from './import.js'
import { AccountGone, UnreadableFile } from './rows.js'
import * as schemas from './schemas.js'
import {
  IMPORT_MEDIA_TYPES,
  IMPORTS_AT_ONCE,
  importSlots,
  installStreamingParsers,
  limitBytes,
  tooLarge,
  unsupportedMediaType,
  type ImportMediaType,
} from './upload.js'

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

/** The media type each format is sent as. */
const FORMAT_MEDIA: Record<ImportFormat, ImportMediaType> = {
  moodlog: 'application/x-ndjson',
  csv: 'text/csv',
  daylio: 'text/csv',
  jrnl: 'application/json',
}

function mediaTypeOf(header: string | undefined): ImportMediaType {
  const type = (header ?? '').split(';')[0]!.trim().toLowerCase()
  return type as ImportMediaType
}

/** `moodMap` is a JSON object in one query parameter: label → whole mood 1–10. */
function parseMoodMap(raw: string | undefined): Record<string, number> | undefined {
  if (raw === undefined) return undefined
  const invalid = () =>
    badRequest('`moodMap` must be a JSON object from mood label to a whole mood from 1 to 10, e.g. {"great":9}.', [
      { field: 'query.moodMap', message: 'must be a JSON object of label → mood 1–10' },
    ])
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw invalid()
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid()
  for (const [label, mood] of Object.entries(value)) {
    if (label.trim() === '' || typeof mood !== 'number' || !Number.isInteger(mood) || mood < 1 || mood > 10) throw invalid()
  }
  return value as Record<string, number>
}

const transferRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const zones = timeZoneCatalog(app.db)
  const slots = importSlots()
  const exporting = exportSlots()
  installStreamingParsers(app)
  app.get(
    '/export',
    {
      preParsing: app.authenticate,
      config: { openapi: { errors: [409] } },
      schema: {
        tags,
        security,
        operationId: 'exportEntries',
        summary: 'Download the whole journal as a file',
        description:
          'Streamed a page at a time, so any size exports in constant memory. Entries are in id order (NDJSON, CSV) ' +
          'or oldest first (Markdown). Every field travels: id, text, mood, category, occurredAt, createdAt, updatedAt ' +
          '(UTC, microseconds) and version; `POST /import` reads NDJSON and CSV back losslessly. An account downloads one ' +
          'export at a time per instance: a second while the first is still being sent is 409 `export-in-progress`.',
        querystring: schemas.ExportQuery,
        response: { 200: schemas.ExportResponse },
      },
    },
    async (request, reply) => {
      const { userId } = currentUser(request)
      const format = request.query.format ?? 'ndjson'
      const tz = await resolveZone(zones, request.query.tz)
      const release = exporting.take(userId)
      // Given back when the response is over, however: sent, failed, or its client gone (maybe already).
      if (reply.raw.destroyed) release()
      else reply.raw.once('close', release)
      const exportedAt = new Date()
      const chunks = exportChunks(app.db.scans, userId, { format, tz, exportedAt, ndjsonPages: ndjsonPagesOf(app.db) })
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

  app.post(
    '/import',
    {
      preParsing: app.authenticate,
      bodyLimit: app.config.importMaxBytes,
      config: {
        requestTimeoutMs: app.config.importTimeoutSeconds * 1000,
        openapi: {
          errors: [409, 422],
          responses: { 200: 'What the import created, skipped and found invalid (nothing is written on a dry run)' },
        },
      },
      schema: {
        tags,
        security,
        operationId: 'importEntries',
        summary: 'Add the entries of a file to the journal',
        description:
          'The body is the file (moodlog NDJSON or CSV, Daylio CSV, jrnl JSON), streamed, up to IMPORT_MAX_BYTES (50 MiB; a jrnl file, ' +
          'parsed whole, up to IMPORT_JRNL_MAX_BYTES, 10 MiB). ' +
          'All or nothing: with any invalid row nothing is written and the answer is 422 listing them, unless ' +
          '`skipInvalid=true`. Every row needs its occurredAt (Daylio and jrnl rows carry a date and time): unlike ' +
          '`POST /entries`, an import never defaults it to now. A row whose occurredAt, text, mood and category the journal already had before the import is skipped (rows of the file are not compared with each other), so ' +
          'importing a file twice creates nothing the second time. `dryRun=true` writes nothing and answers the same report. ' +
          'An unreadable file (wrong format, unknown Daylio mood labels, missing `tz` or `defaultMood`) is 400; a body of ' +
          'another media type, or without a Content-Type, is 415 naming the three accepted. An instance runs ' +
          `${IMPORTS_AT_ONCE} imports at once, one per account: one more is 503 with Retry-After, and a second of the same account 409.`,
        querystring: schemas.ImportQuery,
        body: schemas.ImportBody,
        response: {
          200: schemas.ImportReport,
          422: {
            description:
              'Some rows are invalid and `skipInvalid` is false: nothing was written. A problem document carrying the report ' +
              '(`created`, `skipped`, `invalid`, `invalidCount`).',
            content: { [PROBLEM_CONTENT_TYPE]: { schema: schemas.ImportReport } },
          },
        },
      },
    },
    async (request, reply) => {
      const { userId } = currentUser(request)
      const query = request.query
      const mediaType = mediaTypeOf(request.headers['content-type'])
      const format = query.format ?? IMPORT_MEDIA_TYPES[mediaType]
      // Without a body (so without a parser's say), the media type may be missing or anything.
      if (format === undefined) throw unsupportedMediaType('The request has no file of a known Content-Type.')
      if (FORMAT_MEDIA[format] !== mediaType) throw unsupportedMediaType(`format=${format} is sent as ${FORMAT_MEDIA[format]}.`)
      // jrnl is one JSON document, parsed whole in memory: it gets a limit of its own, far below the streamed formats'.
      const [maxBytes, setting] =
        format === 'jrnl' && app.config.importJrnlMaxBytes < app.config.importMaxBytes
          ? [app.config.importJrnlMaxBytes, 'IMPORT_JRNL_MAX_BYTES']
          : [app.config.importMaxBytes, 'IMPORT_MAX_BYTES']
      const declared = Number(request.headers['content-length'])
      if (declared > maxBytes) throw tooLarge(maxBytes, setting)
      if (format === 'daylio' && query.tz === undefined) {
        throw badRequest('Daylio times are wall-clock times: pass `tz`, the IANA zone they were written in.', [
          { field: 'query.tz', message: 'is required for format=daylio' },
        ])
      }
      if (format === 'jrnl' && query.defaultMood === undefined) {
        throw badRequest('jrnl entries have no mood: pass `defaultMood` (1–10) for all of them.', [
          { field: 'query.defaultMood', message: 'is required for format=jrnl' },
        ])
      }
      const tz = await resolveZone(zones, query.tz)
      const moodMap = parseMoodMap(query.moodMap)

      let result
      const release = slots.take(userId)
      try {
        result = await importFile(app.db, userId, limitBytes(request.body as Readable, maxBytes, setting), {
          format,
          tz,
          dryRun: query.dryRun,
          skipInvalid: query.skipInvalid,
          moodMap,
          defaultMood: query.defaultMood,
          onCreated: query.notify ? entryCreatedEvents(userId) : undefined,
        })
      } catch (error) {
        if (error instanceof UnreadableFile) throw badRequest(error.message, error.errors.length > 0 ? error.errors : undefined)
        // As any request of a deleted account's token is answered, not a failed insert's 500.
        if (error instanceof AccountGone) throw bearerUnauthorized(error.message, true)
        throw error
      } finally {
        release()
      }
      if (result.written) await app.cache.invalidate(userId)
      const { report } = result
      if (report.invalidCount > 0 && !query.skipInvalid) {
        const rows = report.invalidCount === 1 ? '1 row is' : `${report.invalidCount} rows are`
        const problem = problemOf(
          422,
          'invalid-rows',
          `${rows} invalid, so nothing was imported; fix them, or pass skipInvalid=true to import the others.`,
          { instance: '/import', requestId: request.id },
        )
        return reply
          .code(422)
          .type(`${PROBLEM_CONTENT_TYPE}; charset=utf-8`)
          .serializer(JSON.stringify)
          .send({ ...problem, ...report } as never)
      }
      return report
    },
  )
}

export default transferRoutes
