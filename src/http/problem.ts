import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DatabaseUnavailableError } from '../db/index.js'
import { DeadlineExceededError } from '../db/deadline.js'
import { answerAfterDeadline } from './deadline.js'
import type { RouteIndex } from './conventions.js'
import { HttpError, type FieldError } from './errors.js'
import { fieldErrors } from './validation.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  requestId: string
  errors?: FieldError[]
}

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/** Fastify's own 4xx codes, turned into stable problem types. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body-too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid-content-length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid-json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid-json',
  FST_ERR_BAD_URL: 'invalid-url',
}

/** The problem document itself, for the places that write a response without a Fastify reply. */
export function problemOf(
  status: number,
  code: string,
  detail: string,
  where: { instance: string; requestId: string },
  extra: { title?: string; errors?: FieldError[] } = {},
): Problem {
  return {
    type: `/problems/${code}`,
    title: extra.title ?? STATUS_TITLES[status] ?? 'Error',
    status,
    detail,
    instance: where.instance,
    requestId: where.requestId,
    ...(extra.errors ? { errors: extra.errors } : {}),
  }
}

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  detail: string,
  extra: { title?: string; errors?: FieldError[]; headers?: Record<string, string> } = {},
): FastifyReply {
  const problem = problemOf(status, code, detail, { instance: request.url.split('?')[0] ?? request.url, requestId: request.id }, extra)
  if (extra.headers) reply.headers(extra.headers)
  // A route's own response schema for this status (e.g. /readyz's 503 body) must not reshape a problem.
  return reply.code(status).type(`${PROBLEM_CONTENT_TYPE}; charset=utf-8`).serializer(JSON.stringify).send(problem)
}

/** The one error handler: every failure leaves as problem+json. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HttpError | Error, request, reply) => {
    if (error instanceof HttpError) {
      if (error.status >= 500) request.log.warn({ err: error }, error.message)
      return sendProblem(request, reply, error.status, error.code, error.message, {
        title: error.title,
        ...error.extra,
      })
    }
    const fastifyError = error as FastifyError
    if (fastifyError.validation) {
      const errors = fieldErrors(fastifyError.validation as never, fastifyError.validationContext)
      const where = fastifyError.validationContext === 'querystring' ? 'query parameters' : fastifyError.validationContext
      return sendProblem(request, reply, 400, 'invalid-request', `The ${where ?? 'request'} did not pass validation.`, { errors })
    }
    // The request was given up at its deadline: answered once its statements have settled.
    if (error instanceof DeadlineExceededError) return answerAfterDeadline(request, reply, error.deadline)
    if (error instanceof DatabaseUnavailableError) {
      request.log.error({ err: error.cause }, 'database unavailable')
      return sendProblem(request, reply, 503, 'database-unavailable', 'The database is unavailable; retry shortly.', {
        headers: { 'retry-after': '5' },
      })
    }
    const status = fastifyError.statusCode
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const code = FASTIFY_CODES[fastifyError.code] ?? 'invalid-request'
      const detail = code === 'unsupported-media-type' ? 'Request bodies are JSON: send `Content-Type: application/json`.' : error.message
      return sendProblem(request, reply, status, code, detail)
    }
    // Unknown: log everything, tell the client nothing (no stack, SQL or secret leaves).
    request.log.error({ err: error }, 'unhandled error')
    return sendProblem(request, reply, 500, 'internal', 'An unexpected error occurred; it has been logged.')
  })
}

/**
 * The one 404 handler, which also answers 405 (with `Allow`) for a known path asked with another
 * method; rate limited like any route (scanners probing URLs spend their budget).
 */
export function installNotFoundHandler(app: FastifyInstance, routes: RouteIndex): void {
  const limited = app.hasDecorator('rateLimit') ? { preHandler: app.rateLimit() } : {}
  app.setNotFoundHandler(limited, (request, reply) => {
    const path = request.url.split('?')[0] ?? request.url
    const allowed = routes.allowed(path)
    if (allowed.length > 0) {
      return sendProblem(
        request,
        reply,
        405,
        'method-not-allowed',
        `${path} does not support ${request.method}; use ${allowed.join(', ')}.`,
        {
          headers: { allow: allowed.join(', ') },
        },
      )
    }
    return sendProblem(request, reply, 404, 'not-found', `No route for ${request.method} ${path}.`)
  })
}
