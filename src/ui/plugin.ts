import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { WEB_UI_CONTENT_SECURITY_POLICY } from '../http/security-headers.js'

/**
 * Vite's output: `index.html` and `assets/<name>-<hash>.js|css`. The same path from `src/ui`
 * (tsx) and `dist/ui` (build). The server's own code must not live in `dist/web`: Vite empties it.
 */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url))

/** Hashed names change with their content, so a browser may keep them for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable'
/** index.html (and any unhashed file) is revalidated on every load, so a new release shows at once. */
const REVALIDATE = 'no-cache'

/**
 * The web UI at `/`, from the same origin as the API: static files from `dist/web`, and
 * `index.html` for HTML navigations to the UI's own routes (`/insights`, `/settings`, …) so that a
 * reload or a shared link opens the page the UI routes to. Never for API paths or missing assets:
 * those stay problem+json 404s. Without a built UI the API works alone (logged once).
 *
 * Registered before the API routes: its `onRoute` hook records their first path segments.
 *
 * @fastify/static is pinned to 10.1.3: later 10.1.x releases require content-disposition 3, an
 * ES module loaded with require(), which Node 20 supports only from 20.19 (moodlog runs on 20.10+).
 */
export default fp(
  async function webUi(app: FastifyInstance) {
    const root = path.resolve(app.config.webDir ?? DEFAULT_WEB_DIR)
    if (!existsSync(path.join(root, 'index.html'))) {
      app.log.warn({ webDir: root }, 'web UI not built (no index.html): serving the API only; `npm run build` builds the UI')
      return
    }

    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      // One route per file found at start instead of a `/*` catch-all: unknown paths keep
      // reaching the app's one 404 handler (problem+json, 405 for a known path).
      wildcard: false,
      index: ['index.html'],
      // Cache-Control is decided per file in setHeaders.
      cacheControl: false,
      decorateReply: true,
      setHeaders: (reply, filePath) => setUiHeaders(reply, path.relative(root, filePath)),
    })

    const apiSegments = new Set<string>()
    app.addHook('onRoute', (route) => {
      const segment = firstSegment(route.url)
      if (segment !== '' && !segment.includes('*')) apiSegments.add(segment)
    })

    const served = new WeakSet<FastifyRequest>()
    // Callback style, so that answering with index.html ends the chain before the 404 handler.
    app.addHook('onRequest', (request, reply, done) => {
      if (!request.is404 || served.has(request) || !isUiNavigation(request, apiSegments)) return done()
      served.add(request)
      reply.sendFile('index.html')
    })
  },
  { name: 'moodlog-web-ui', dependencies: ['moodlog-core'] },
)

function setUiHeaders(reply: FastifyReply, file: string): void {
  reply.header('cache-control', file.split(path.sep)[0] === 'assets' ? IMMUTABLE : REVALIDATE)
  reply.header('content-security-policy', WEB_UI_CONTENT_SECURITY_POLICY)
}

function firstSegment(url: string): string {
  return url.split('?')[0]!.split('/')[1] ?? ''
}

/** A browser opening a page: GET or HEAD, asking for HTML, on a path that is neither the API's nor an asset's. */
function isUiNavigation(request: FastifyRequest, apiSegments: Set<string>): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false
  if (!(request.headers.accept ?? '').includes('text/html')) return false
  const segment = firstSegment(request.url)
  return segment !== 'assets' && !apiSegments.has(segment)
}
