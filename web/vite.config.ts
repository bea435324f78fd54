import path from 'node:path'
import { defineConfig } from 'vite'

const root = import.meta.dirname
/** Paths the API answers; the dev server forwards them to `npm run dev` (API_URL, default port 3000). */
const apiPaths = [
  '/register',
  '/login',
  '/token',
  '/logout',
  '/me',
  '/entries',
  '/categories',
  '/stats',
  '/openapi.json',
  '/docs',
  '/health',
]

export default defineConfig(() => {
  const target = process.env.API_URL ?? 'http://127.0.0.1:3000'
  return {
    root,
    // JSX through Vite's own transform: no Babel preset needed for Preact.
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      outDir: path.resolve(root, '../dist/web'),
      emptyOutDir: true,
      // Every browser that runs this UI has native module preload; the polyfill is dead weight.
      modulePreload: { polyfill: false },
      // Keep every asset a file: a data: URL or an inlined script would fall foul of the CSP.
      assetsInlineLimit: 0,
      reportCompressedSize: true,
      target: 'es2022',
    },
    server: {
      proxy: Object.fromEntries(
        apiPaths.map((prefix) => [
          prefix,
          {
            target,
            // The API accepts cookie refreshes only from its own origin.
            configure: (proxy: { on(event: 'proxyReq', handler: (request: { setHeader(name: string, value: string) }) => void): void }) =>
              proxy.on('proxyReq', (request) => request.setHeader('origin', target)),
          },
        ]),
      ),
    },
  }
})
