import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet from 'helmet'

/**
 * helmet's default security headers (CSP, HSTS, nosniff, frame and referrer policies, …) on every
 * response. moodlog's policy is the same for every request, so helmet runs once, at startup, and
 * its headers are replayed: @fastify/helmet instead builds a new helmet middleware for each
 * request, which cost about 5% of a small authenticated request (measured; docs/PERFORMANCE.md).
 */
export const securityHeadersPlugin = fp(
  async function securityHeaders(app: FastifyInstance, options: { headers: Record<string, string> }) {
    const { headers } = options
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers)
      done()
    })
  },
  { name: 'moodlog-security-headers' },
)

/** The headers helmet's middleware sets, recorded from one run against a stand-in response. */
export function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader(name: string, value: string | number) {
      headers[name.toLowerCase()] = String(value)
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  helmet()({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error
  })
  if (!headers['content-security-policy']) throw new Error('helmet set no Content-Security-Policy')
  return headers
}

/**
 * The web UI's policy (index.html and its assets; the rest of the app keeps helmet's default and
 * Swagger UI its own): only this origin's scripts, styles and API, no inline code, no framing.
 */
export const WEB_UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ')
