import { readFileSync } from 'node:fs'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { contractCollector, type OpenApiDocument } from './openapi-contract.js'
import { ProblemSchema } from './problem.js'

/** Same path from `src/http` (tsx) and `dist/http` (build). */
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/**
 * OpenAPI 3.1 at `/openapi.json` and Swagger UI at `/docs`, generated from the route schemas.
 * Must be installed before any route: @fastify/swagger collects routes as they are added.
 * Routes without `tags` (the test-only routes) are left out; every product route carries tags.
 */
export const docsPlugin = fp(
  async function docs(app: FastifyInstance) {
    const completeContract = contractCollector(app)
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'moodlog',
          version: packageJson.version,
          description:
            'Mood journal and personal analytics API. Every error is `application/problem+json`. ' +
            'Request bodies are JSON (`Content-Type: application/json`; anything else is 415). ' +
            'Every operation accepts only the query parameters it lists: an unknown one is 400, naming it in `errors`.',
          license: { name: 'MIT', identifier: 'MIT' },
        },
        // Relative: the document is served by the instance it describes, behind whatever host name.
        servers: [{ url: '/', description: 'This moodlog instance' }],
        // Listed here so the UI shows them in this order rather than in route registration order.
        tags: [
          { name: 'accounts', description: 'Registration, sign-in, tokens and sessions' },
          { name: 'entries', description: 'Journal entries' },
          { name: 'stats', description: 'Mood statistics and streaks' },
          { name: 'webhooks', description: 'Webhook endpoints and their deliveries (Standard Webhooks v1)' },
          { name: 'transfer', description: 'Export and import of the whole journal' },
          { name: 'health', description: 'Liveness, readiness and dependency status' },
          { name: 'operations', description: 'Metrics for the operator' },
        ],
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
          schemas: { Problem: ProblemSchema as never },
        },
      },
      hideUntagged: true,
      transformObject: (document) => completeContract((document as { openapiObject: OpenApiDocument }).openapiObject) as never,
    })

    await app.register(swaggerUi, {
      routePrefix: '/docs',
      // The online validator badge would load an image from a third-party host.
      uiConfig: { validatorUrl: null } as never,
      // The page loads only its own assets; `upgrade-insecure-requests` from helmet's default would
      // make browsers fetch them over https and break the page on plain-http local installs.
      transformStaticCSP: (header) =>
        header
          .split(';')
          .filter((directive) => directive.trim() !== 'upgrade-insecure-requests')
          .join(';'),
    })

    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  },
  { name: 'moodlog-docs' },
)
