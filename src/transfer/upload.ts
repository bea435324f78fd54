import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { HttpError } from '../http/errors.js'

/** The media types `POST /import` reads, and the format each defaults to. */
export const IMPORT_MEDIA_TYPES = { 'application/x-ndjson': 'moodlog', 'text/csv': 'csv', 'application/json': 'jrnl' } as const
export type ImportMediaType = keyof typeof IMPORT_MEDIA_TYPES

/** 413 naming the limit and the setting that sets it. */
export const tooLarge = (limit: number, setting = 'IMPORT_MAX_BYTES') =>
  new HttpError(
    413,
    'body-too-large',
    'Content Too Large',
    `The file is larger than the ${setting === 'IMPORT_MAX_BYTES' ? 'import' : 'jrnl import'} limit of ${limit} bytes ` +
      `(${mebibytes(limit)}, ${setting}).`,
  )

const mebibytes = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 100) / 100} MiB`

/** How many imports one instance reads and writes at once; more are refused, not queued. */
export const IMPORTS_AT_ONCE = 2
/** What a refused import is told to wait, in seconds. */
export const IMPORT_RETRY_AFTER_SECONDS = 30

/**
 * Counts the imports in progress on this instance. Each holds a spool file on disk and a CPU while
 * it parses, so they are bounded; one beyond the bound is refused at once with 503 and Retry-After
 * (a queue would keep its upload, and its IMPORT_TIMEOUT_SECONDS, waiting with no answer). An
 * account has at most one of them, so that one account cannot take every slot: a second is 409
 * until the first ends (its writes would wait for the first's anyway, under the import lock).
 */
export function importSlots(max = IMPORTS_AT_ONCE) {
  const importing = new Set<number>()
  return {
    /** Takes a slot for `userId`, or throws the 409 or 503; the returned function gives it back (once). */
    take(userId: number): () => void {
      if (importing.has(userId)) {
        throw new HttpError(
          409,
          'import-in-progress',
          'Conflict',
          'An import into this journal is already in progress; send the file again once it has ended.',
        )
      }
      if (importing.size >= max) {
        throw new HttpError(
          503,
          'imports-busy',
          'Service Unavailable',
          `This server is already running ${max} imports; send the file again in a little while.`,
          { headers: { 'retry-after': String(IMPORT_RETRY_AFTER_SECONDS) } },
        )
      }
      importing.add(userId)
      let released = false
      return () => {
        if (!released) importing.delete(userId)
        released = true
      }
    },
  }
}

/** 415 naming the media types an import is sent as; `problem` says what was wrong with this one. */
export const unsupportedMediaType = (problem: string) =>
  new HttpError(
    415,
    'unsupported-media-type',
    'Unsupported Media Type',
    `${problem} Send the file as application/x-ndjson (format=moodlog), text/csv (format=csv or daylio) or application/json (format=jrnl).`,
  )

/**
 * Hands the request body to the route as a stream, unparsed, for the media types of the import
 * (registered in the transfer routes' own scope: every other route keeps the app's JSON parser).
 * Any other body, or one without a Content-Type, is refused here, before a byte of it is read,
 * with the import's own media types (the app's answer would send the client to JSON alone).
 */
export function installStreamingParsers(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser(Object.keys(IMPORT_MEDIA_TYPES), (_request, payload, done) => done(null, payload))
  app.addContentTypeParser('*', (request, _payload, done) => done(unsupportedMediaType(mediaTypeProblem(request.headers['content-type']))))
}

function mediaTypeProblem(header: string | undefined): string {
  return header === undefined || header.trim() === ''
    ? 'The request has no Content-Type.'
    : `Content-Type ${header} is not a file an import reads.`
}

/**
 * Passes the bytes through, failing with 413 once more than `limit` have come. Lazy: nothing is
 * read (and so nothing can fail unheard) until the returned stream is consumed.
 */
export function limitBytes(input: Readable, limit: number, setting?: string): Readable {
  return Readable.from(
    (async function* () {
      let seen = 0
      // Not destroyed when reading stops early (too large, unreadable): the answer still has to go out on it.
      for await (const chunk of input.iterator({ destroyOnReturn: false })) {
        seen += (chunk as Buffer).length
        if (seen > limit) throw tooLarge(limit, setting)
        yield chunk as Buffer
      }
    })(),
    { objectMode: false },
  )
}
