import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Type, type Static } from 'typebox'
import { HasherBusyError, VerificationAbandonedError } from '../auth/passwords.js'
import { DatabaseUnavailableError } from '../db/index.js'
import { DeadlineExceededError } from '../db/deadline.js'
import { answerAfterDeadline } from './deadline.js'
import type { RouteIndex } from './conventions.js'
import { HttpError, titleOf, type FieldError } from './errors.js'
import { fieldErrors } from './validation.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** RFC 9457 problem details: the one schema, for the type below and the OpenAPI document. */
export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'Stable problem identifier, e.g. `/problems/not-found`.' }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  instance: Type.String({ description: 'The request path (empty when the request line could not be read).' }),
  requestId: Type.String({ description: 'Also in the `X-Request-Id` header and the logs.' }),
  errors: Type.Optional(
    Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), { description: 'Validation failures, one per field.' }),
  ),
})
export type Problem = Static<typeof ProblemSchema>

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
    title: extra.title ?? titleOf(status),
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
export const problemPlugin = fp(
  async function problems(app: FastifyInstance) {
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
      // Domain errors, mapped here rather than thrown as HTTP errors by the code that detects them.
      if (error instanceof HasherBusyError) {
        request.log.warn('password hasher queue full')
        return sendProblem(request, reply, 503, 'service-unavailable', error.message, {
          headers: { 'retry-after': String(error.retryAfterSeconds) },
        })
      }
      if (error instanceof VerificationAbandonedError) {
        // Nobody receives it: the client has gone (nginx's 499).
        return sendProblem(request, reply, 499, 'client-closed-request', error.message)
      }
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
  },
  { name: 'moodlog-problems' },
)

/**
 * The one 404 handler, which also answers 405 (with `Allow`) for a known path asked with another
 * method (`routes`, as `conventionsPlugin` records them); rate limited like any route (scanners
 * probing URLs spend their budget), unless RATE_LIMIT_MAX=0 turned the limit off.
 */
export const notFoundPlugin = fp(
  async function notFound(app: FastifyInstance, options: { routes: RouteIndex }) {
    const { routes } = options
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
  },
  { name: 'moodlog-not-found', dependencies: ['moodlog-conventions', 'moodlog-rate-limit'] },
)
