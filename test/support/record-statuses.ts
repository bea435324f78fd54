/**
 * Preloaded into every test process by `scripts/test.ts`: records the status of every response
 * any app in the process sends, per route, so the runner can check at the end of the suite that
 * each status is one the OpenAPI document lists for that operation.
 */
import { subscribe } from 'node:diagnostics_channel'
import { appendFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'

const dir = process.env.MOODLOG_TEST_STATUS_DIR
if (dir) {
  const seen = new Set<string>()
  subscribe('fastify.initialization', (message) => {
    const { fastify } = message as { fastify: FastifyInstance }
    fastify.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url
      if (route === undefined) return
      const method = request.method === 'HEAD' ? 'GET' : request.method
      seen.add(JSON.stringify({ method, route, status: reply.statusCode }))
    })
  })
  process.on('exit', () => {
    if (seen.size > 0) appendFileSync(path.join(dir, `${process.pid}.ndjson`), [...seen].join('\n') + '\n')
  })
}
