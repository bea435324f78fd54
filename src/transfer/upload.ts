import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { HttpError } from '../http/errors.js'

/** The media types `POST /import` reads, and the format each defaults to. */
export const IMPORT_MEDIA_TYPES = { 'application/x-ndjson': 'moodlog', 'text/csv': 'csv', 'application/json': 'jrnl' } as const
export type ImportMediaType = keyof typeof IMPORT_MEDIA_TYPES

export const tooLarge = (limit: number) =>
  new HttpError(
    413,
    'body-too-large',
    'Content Too Large',
    `The file is larger than the import limit of ${limit} bytes (IMPORT_MAX_BYTES).`,
  )

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
export function limitBytes(input: Readable, limit: number): Readable {
  return Readable.from(
    (async function* () {
      let seen = 0
      // Not destroyed when reading stops early (too large, unreadable): the answer still has to go out on it.
      for await (const chunk of input.iterator({ destroyOnReturn: false })) {
        seen += (chunk as Buffer).length
        if (seen > limit) throw tooLarge(limit)
        yield chunk as Buffer
      }
    })(),
    { objectMode: false },
  )
}
