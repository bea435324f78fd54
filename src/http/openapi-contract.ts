import type { FastifyInstance } from 'fastify'

/** Response headers the document describes once and every operation refers to. */
export const HEADERS = {
  'X-Request-Id': { description: 'The request id: the sane value the client sent, or a generated one. Also in logs and problem bodies.' },
  ETag: { description: 'The entry version as a strong entity tag, for `If-Match` and `If-None-Match`.' },
  Location: { description: 'Where the created resource lives.' },
  'Idempotent-Replayed': { description: '`true` when this answer is the replay of an earlier request with the same `Idempotency-Key`.' },
  'X-RateLimit-Limit': { description: 'Requests allowed per window for this client.' },
  'X-RateLimit-Remaining': { description: 'Requests left in the current window.' },
  'X-RateLimit-Reset': { description: 'Seconds until the window resets.' },
  'Retry-After': { description: 'Seconds to wait before trying again.' },
  'WWW-Authenticate': {
    description:
      'The bearer challenge (RFC 6750): `Bearer` when no token was sent, `Bearer error="invalid_token"` when the token is malformed, expired or its session has ended.',
  },
} as const

export type HeaderName = keyof typeof HEADERS

/** What a route declares about itself beyond its schema (route `config.openapi`). */
export interface OperationContract {
  /** Problem statuses the route sends besides the ones every route can send (see `genericErrors`). */
  errors?: number[]
  /** Headers sent with a status beyond the generic ones (`Location` with 201, a challenge with 401, …). */
  headers?: Partial<Record<number, HeaderName[]>>
  /** What each success response means (the document's description of it). */
  responses?: Partial<Record<number, string>>
}

declare module 'fastify' {
  interface FastifyContextConfig {
    openapi?: OperationContract
  }
}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed: a field, parameter or header fails validation (`errors` names each), or a query parameter is unknown',
  401: 'Missing, invalid or expired credentials',
  403: 'Refused: the request may not do this',
  404: 'No such resource (another user’s resources are not found either)',
  409: 'Conflicts with the current state',
  412: 'The precondition (`If-Match` / `If-None-Match`) failed',
  413: 'The body is larger than the limit',
  414: 'A path segment is longer than 100 characters',
  415: 'The body is not of a supported media type',
  422: 'Understood but cannot be processed',
  429: 'Too many requests; `Retry-After` says when to try again',
  500: 'An unexpected error (the body carries no internals)',
  503: 'Temporarily unavailable: the database is unreachable, the request ran out of time, or the instance is shutting down',
}

const BODY_METHODS = new Set(['post', 'put', 'patch', 'delete'])

/** Probes and operator endpoints are never rate limited (see `http/rate-limit.ts`). */
const UNLIMITED = new Set(['/livez', '/readyz', '/health', '/metrics'])

type Operation = {
  security?: unknown[]
  requestBody?: unknown
  responses?: Record<string, { description?: string; headers?: Record<string, unknown>; content?: unknown }>
}

/** The part of the generated document this module completes. */
export interface OpenApiDocument {
  paths?: Record<string, Record<string, Operation>>
  components?: Record<string, unknown>
}

const ref = (name: HeaderName) => ({ $ref: `#/components/headers/${name}` })

function headersFor(names: HeaderName[]): Record<string, unknown> {
  return Object.fromEntries(names.map((name) => [name, ref(name)]))
}

/** The statuses every operation of this shape can send, whatever its domain. */
function genericErrors(path: string, method: string, operation: Operation): number[] {
  const statuses = [400, 500, 503]
  if (operation.security?.length) statuses.push(401)
  // Fastify reads a body sent with these methods even when the route takes none: too large or not JSON is refused.
  if (operation.requestBody || BODY_METHODS.has(method)) statuses.push(413, 415)
  // A path parameter over the router's length limit.
  if (path.includes('{')) statuses.push(414)
  if (!UNLIMITED.has(path)) statuses.push(429)
  return statuses
}

/** `/entries/:id` → `/entries/{id}`, as OpenAPI writes path parameters. */
export const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

/**
 * Collects each route's `config.openapi` as routes are added; `complete` then writes every
 * status the route can send into the document with the Problem schema, and the headers that go
 * with them, instead of one catch-all `default`.
 */
export function contractCollector(app: FastifyInstance) {
  const contracts = new Map<string, OperationContract>()
  app.addHook('onRoute', (route) => {
    const contract = route.config?.openapi
    if (!contract) return
    for (const method of [route.method].flat()) contracts.set(`${method.toLowerCase()} ${openApiPath(route.url)}`, contract)
  })

  return function complete(document: OpenApiDocument): OpenApiDocument {
    document.components = {
      ...document.components,
      headers: Object.fromEntries(Object.entries(HEADERS).map(([name, h]) => [name, { ...h, schema: { type: 'string' } }])),
    }
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      for (const [method, operation] of Object.entries(item)) {
        const contract = contracts.get(`${method} ${path}`) ?? {}
        // Public operations say so: a document-level default would otherwise be ambiguous.
        operation.security ??= []
        const limited = !UNLIMITED.has(path)
        const common: HeaderName[] = limited
          ? ['X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']
          : ['X-Request-Id']
        const responses = (operation.responses ??= {})
        delete responses.default
        for (const [status, response] of Object.entries(responses)) {
          const extra = contract.headers?.[Number(status)] ?? (status === '304' ? ['ETag' as const] : [])
          response.headers = { ...response.headers, ...headersFor([...common, ...extra]) }
          const description = contract.responses?.[Number(status)]
          if (description) response.description = description
        }
        const statuses = [...new Set([...genericErrors(path, method, operation), ...(contract.errors ?? [])])].sort((a, b) => a - b)
        for (const status of statuses) {
          // A route that documents its own body for an error status (readiness' 503) keeps it.
          if (responses[String(status)]) continue
          const extra: HeaderName[] = [
            ...(status === 429 || status === 503 ? ['Retry-After' as const] : []),
            ...(status === 401 && operation.security?.length ? ['WWW-Authenticate' as const] : []),
            ...(contract.headers?.[status] ?? []),
          ]
          responses[String(status)] = {
            description: PROBLEM_DESCRIPTIONS[status] ?? 'An error',
            headers: headersFor([...common, ...extra]),
            content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
          }
        }
      }
    }
    return document
  }
}
