import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { sendProblem } from './problem.js'

/**
 * HTTP conventions that hold for every route, whoever wrote it (RFC 9110):
 *  - a known path asked with another method is 405 with `Allow`, not 404 (§15.5.6);
 *  - a path whose parameter is empty (`/entries/`) is 404, like any other unknown path with a
 *    trailing slash, never a 400 about the parameter;
 *  - a 304 carries no Content-Type or Content-Length of a body it does not send (§15.4.5);
 *  - request bodies are JSON only: any other media type is 415 (Fastify's built-in text/plain
 *    parser is removed);
 *  - documented routes accept only the query parameters they declare: an unknown one is 400 naming
 *    it (a route without a querystring schema gets an empty, closed one).
 *
 * `routes` is filled as routes are added; the 404 handler (`notFoundPlugin`) reads it.
 */
export const conventionsPlugin = fp(
  async function conventions(app: FastifyInstance, options: { routes: RouteIndex }) {
    const { routes } = options
    app.removeContentTypeParser('text/plain')

    app.addHook('onRoute', (route) => {
      routes.add(route)
      closeQuerystring(route)
    })

    app.addHook('onRequest', (request, reply, done) => {
      if (hasEmptyParameter(request)) {
        sendProblem(request, reply, 404, 'not-found', `No route for ${request.method} ${pathOf(request)}.`)
        return
      }
      done()
    })

    app.addHook('onSend', async (_request, reply: FastifyReply, payload) => {
      if (reply.statusCode !== 304) return payload
      reply.removeHeader('content-type')
      reply.removeHeader('content-length')
      return null
    })
  },
  { name: 'moodlog-conventions' },
)

const pathOf = (request: FastifyRequest) => request.url.split('?')[0] ?? request.url

/** A route is documented when it is in the OpenAPI document: it has tags and is not hidden. */
function isDocumented(route: RouteOptions): boolean {
  const schema = route.schema as { tags?: unknown; hide?: boolean } | undefined
  return Array.isArray(schema?.tags) && schema.tags.length > 0 && schema.hide !== true
}

function closeQuerystring(route: RouteOptions): void {
  if (!isDocumented(route) || !route.schema) return
  const querystring = route.schema.querystring as { additionalProperties?: unknown } | undefined
  if (querystring === undefined) {
    route.schema = { ...route.schema, querystring: { type: 'object', properties: {}, additionalProperties: false } }
  } else if (querystring.additionalProperties === undefined) {
    route.schema = { ...route.schema, querystring: { ...querystring, additionalProperties: false } }
  }
}

function hasEmptyParameter(request: FastifyRequest): boolean {
  const params = request.params as Record<string, string> | null
  if (!params) return false
  // The wildcard of a catch-all route (`/docs/*`) may legitimately be empty.
  for (const name in params) if (name !== '*' && params[name] === '') return true
  return false
}

/** The routes' methods by path pattern, to tell a wrong method (405) from an unknown path (404). */
export class RouteIndex {
  private readonly methods = new Map<string, Set<string>>()
  private compiled: Array<{ pattern: RegExp; methods: string[] }> | undefined

  add(route: RouteOptions): void {
    // Catch-alls (`*`, CORS preflights on every path) would make every path "known".
    if (route.url.includes('*')) return
    const methods = this.methods.get(route.url) ?? new Set<string>()
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) methods.add(method)
    if (methods.has('GET')) methods.add('HEAD')
    this.methods.set(route.url, methods)
    this.compiled = undefined
  }

  /** The methods the path is served with, sorted; empty when no route has this path. */
  allowed(path: string): string[] {
    this.compiled ??= [...this.methods].map(([url, methods]) => ({ pattern: patternOf(url), methods: [...methods] }))
    const allowed = new Set<string>()
    for (const { pattern, methods } of this.compiled) if (pattern.test(path)) for (const method of methods) allowed.add(method)
    return [...allowed].sort()
  }
}

/** `/entries/:id` → /^\/entries\/[^/]+$/ (a parameter is one non-empty path segment). */
function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${source}$`)
}
