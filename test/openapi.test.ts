import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import testRoutes from './fixtures/slow-routes.js'
import { createTestDatabase, testConfig, type TestDatabase } from './support/harness.js'

const run = promisify(execFile)

/**
 * Every method and path the app will answer, recorded by an `onRoute` hook as routes are added.
 * buildApp registers its routes before it returns, so the hook goes on the instance the moment
 * Fastify creates it: Fastify announces every new instance on this diagnostics channel
 * (https://fastify.dev/docs/latest/Reference/Hooks/#diagnostics-channel-hooks).
 */
async function buildAppRecordingRoutes(
  ...args: Parameters<typeof buildApp>
): Promise<{ app: FastifyInstance; routes: Array<{ method: string; path: string }> }> {
  const routes: Array<{ method: string; path: string }> = []
  const record = (message: unknown) => {
    ;(message as { fastify: FastifyInstance }).fastify.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method, path: route.url })
    })
  }
  diagnostics.subscribe('fastify.initialization', record)
  try {
    return { app: await buildApp(...args), routes }
  } finally {
    diagnostics.unsubscribe('fastify.initialization', record)
  }
}

/** `/entries/:id` → `/entries/{id}`, as OpenAPI writes path parameters. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

const isDocsRoute = (path: string) => path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/')
const isTestRoute = (path: string) => path.startsWith('/test/')
/** The web UI's built files (one route each, present once `npm run build` has run): pages, not API. */
const isUiFile = (path: string) => path === '/' || path.startsWith('/assets/') || (/\.[A-Za-z0-9]+$/.test(path) && path !== '/openapi.json')

describe('API documentation', () => {
  let testDb: TestDatabase
  let app: FastifyInstance
  let routes: Array<{ method: string; path: string }>
  let doc: any

  before(async () => {
    testDb = await createTestDatabase('pglite')
    // The test-only routes are registered too: they must stay out of the document.
    ;({ app, routes } = await buildAppRecordingRoutes(testConfig(), { db: testDb.db, logger: false, plugins: [testRoutes] }))
    await app.ready()
    const response = await app.inject({ url: '/openapi.json' })
    assert.equal(response.statusCode, 200)
    doc = response.json()
  })
  after(async () => {
    await app.close()
    await testDb.drop()
  })

  test('when /openapi.json is fetched, then it is a valid OpenAPI 3.1 document whose references all resolve', async () => {
    const validator = new Validator()
    // A copy: resolving references rewrites the document in place.
    const result = await validator.validate(structuredClone(doc))
    assert.deepEqual(result.errors, undefined)
    assert.equal(result.valid, true)
    assert.equal(validator.version, '3.1')
    assert.doesNotThrow(() => validator.resolveRefs())
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))
    assert.equal(doc.info.title, 'moodlog')
    assert.equal(doc.info.version, pkg.version)
  })

  test('when the routes are compared with the document, then every route but the docs and test routes is in it', () => {
    const registered = routes.filter(
      // HEAD is answered for every GET by Fastify itself; OpenAPI leaves it implicit.
      (route) => route.method !== 'HEAD' && !isDocsRoute(route.path) && !isTestRoute(route.path) && !isUiFile(route.path),
    )
    assert.ok(registered.length >= 10, `found the app's routes: ${JSON.stringify(registered)}`)
    for (const path of ['/register', '/login', '/me', '/livez', '/metrics']) {
      assert.ok(
        registered.some((route) => route.path === path),
        `${path} was found among the registered routes`,
      )
    }
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    )
    const expected = registered.map((route) => `${route.method} ${openApiPath(route.path)}`)
    assert.deepEqual([...documented].sort(), [...new Set(expected)].sort())
  })

  test("when the README's API table is compared with the document, then it names every operation and no other", async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## API'), readme.indexOf('\n## ', readme.indexOf('## API') + 1))
    const table = section
      .split('\n')
      .filter((line) => line.startsWith('|'))
      .join('\n')
    // `GET/PATCH/DELETE /entries/{id}` names three operations; query strings are examples, not paths.
    const named = [...table.matchAll(/`((?:GET|POST|PATCH|DELETE)(?:\/(?:GET|POST|PATCH|DELETE))*) (\/[^`?\s]*)/g)].flatMap(
      ([, methods, path]) => methods!.split('/').map((method) => `${method} ${path}`),
    )
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    )
    assert.deepEqual([...new Set(named)].sort(), documented.sort())
  })

  test('when a parameter has a default, then it is not required (strict clients would refuse calls without it)', () => {
    const offenders: string[] = []
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, operation] of Object.entries(item)) {
        for (const parameter of operation.parameters ?? []) {
          if (parameter.required && parameter.schema?.default !== undefined)
            offenders.push(`${method.toUpperCase()} ${path} ${parameter.name}`)
        }
      }
    }
    assert.deepEqual(offenders, [])
    const format = doc.paths['/export'].get.parameters.find((p: { name: string }) => p.name === 'format')
    assert.deepEqual([format.schema.default, format.required ?? false], ['ndjson', false], 'defaults are still documented')
  })

  test('when an operation needs a token, then it says so with the bearerAuth scheme', () => {
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    assert.deepEqual(doc.paths['/me'].get.security, [{ bearerAuth: [] }])
    assert.deepEqual(doc.paths['/login'].post.security, [])
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, operation] of Object.entries(item)) {
        assert.ok(operation.summary && operation.tags?.length, `${method} ${path} has a summary and tags`)
        for (const tag of operation.tags)
          assert.ok(
            doc.tags.some((t: { name: string }) => t.name === tag),
            `tag ${tag} is declared`,
          )
        if (!operation.security?.some((scheme: Record<string, unknown>) => 'bearerAuth' in scheme)) {
          assert.deepEqual(operation.security, [], `${method} ${path} says it is public`)
        }
      }
    }
    assert.deepEqual(doc.components.schemas.Problem.required, ['type', 'title', 'status', 'detail', 'instance', 'requestId'])
  })

  test('when the operations are listed, then each has a unique camelCase operationId and says what its answers mean', () => {
    const ids = new Set<string>()
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, operation] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`
        assert.match(operation.operationId ?? '', /^[a-z][a-zA-Z0-9]*$/, `${where} has a camelCase operationId`)
        assert.ok(!ids.has(operation.operationId), `${where}: operationId ${operation.operationId} is unique`)
        ids.add(operation.operationId)
        assert.equal(operation.responses.default, undefined, `${where} lists its statuses instead of a catch-all default`)
        for (const [status, response] of Object.entries(operation.responses as Record<string, any>)) {
          assert.ok(response.description && response.description !== 'Default Response', `${where} ${status} is described`)
          assert.ok(response.headers?.['X-Request-Id'], `${where} ${status} documents X-Request-Id`)
        }
      }
    }
    const id = (path: string, method: string) => doc.paths[path][method].operationId
    assert.equal(id('/register', 'post'), 'register')
    assert.equal(id('/entries', 'post'), 'createEntry')
    assert.equal(id('/entries', 'get'), 'listEntries')
    assert.equal(id('/stats', 'get'), 'getStats')
  })

  test('when an operation can fail, then each status it sends is listed with the Problem schema and its headers', () => {
    const problem = (path: string, method: string, status: number) =>
      doc.paths[path][method].responses[status]?.content?.['application/problem+json']?.schema?.$ref
    for (const status of [400, 401, 404, 412, 413, 415, 429, 503]) {
      assert.equal(problem('/entries/{id}', 'patch', status), '#/components/schemas/Problem', `PATCH /entries/{id} lists ${status}`)
    }
    assert.equal(problem('/register', 'post', 409), '#/components/schemas/Problem')
    assert.equal(problem('/register', 'post', 401), undefined, 'a public route does not list 401')
    assert.equal(problem('/entries', 'post', 422), '#/components/schemas/Problem')
    assert.equal(problem('/livez', 'get', 429), undefined, 'probes are never rate limited')
    // Readiness documents its own 503 body, which stays.
    assert.equal(doc.paths['/readyz'].get.responses[503].content['application/json'].schema.type, 'object')

    const headers = (path: string, method: string, status: number) => Object.keys(doc.paths[path][method].responses[status].headers ?? {})
    for (const name of [
      'Location',
      'ETag',
      'Idempotent-Replayed',
      'X-Request-Id',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
    ])
      assert.ok(headers('/entries', 'post', 201).includes(name), `POST /entries 201 documents ${name}`)
    assert.ok(headers('/entries/{id}', 'get', 304).includes('ETag'))
    assert.ok(headers('/register', 'post', 201).includes('Location'))
    assert.ok(headers('/login', 'post', 429).includes('Retry-After'))
    assert.ok(headers('/entries', 'get', 503).includes('Retry-After'))
    for (const name of Object.keys(doc.components.headers)) assert.ok(doc.components.headers[name].description, `${name} is described`)
    assert.deepEqual(doc.servers, [{ url: '/', description: 'This moodlog instance' }])
  })

  test('when Redocly lints the document with its recommended rules, then it finds no error and no warning', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-openapi-'))
    try {
      const file = path.join(dir, 'openapi.json')
      await writeFile(file, JSON.stringify(doc))
      const cli = fileURLToPath(import.meta.resolve('@redocly/cli/bin/cli.js'))
      const { stdout } = await run(process.execPath, [cli, 'lint', file, '--format=json'], {
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }))
      const report = JSON.parse(stdout.slice(stdout.indexOf('{')))
      const problems = report.problems.map(
        (p: { severity: string; ruleId: string; message: string; location: Array<{ pointer: string }> }) =>
          `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`,
      )
      assert.deepEqual(problems, [])
      assert.deepEqual(report.totals, { errors: 0, warnings: 0, ignored: 0 })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('when /docs is opened, then Swagger UI is served with a CSP its own assets satisfy on plain http', async () => {
    const page = await app.inject({ url: '/docs/' })
    assert.equal(page.statusCode, 200)
    assert.match(page.headers['content-type'] as string, /^text\/html/)
    assert.match(page.body, /swagger-ui/)
    const csp = page.headers['content-security-policy'] as string
    assert.match(csp, /script-src 'self'/)
    assert.doesNotMatch(csp, /upgrade-insecure-requests/)
    assert.equal((await app.inject({ url: '/docs' })).statusCode, 200)

    const script = await app.inject({ url: '/docs/static/swagger-ui-bundle.js' })
    assert.equal(script.statusCode, 200)
    assert.match(script.headers['content-type'] as string, /javascript/)

    // The rest of the app keeps helmet's default policy.
    const api = await app.inject({ url: '/livez' })
    assert.match(api.headers['content-security-policy'] as string, /upgrade-insecure-requests/)
  })
})
