import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { after, before, describe } from 'node:test'
import type { FastifyInstance, FastifyPluginAsync, InjectOptions, LightMyRequestResponse } from 'fastify'
import postgres from 'postgres'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { migrate, type Database } from '../../src/db/index.js'
import { openEmbeddedMemoryDatabase } from '../../src/db/embedded.js'
import { openServerDatabase } from '../../src/db/server.js'
import { databaseUrlFor, TEST_DB_PREFIX } from './naming.js'

export type BackendName = 'pglite' | 'postgres'

/** PGlite always; the Postgres server too when TEST_DATABASE_URL is set. */
export function backendNames(): BackendName[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite']
}

/** Environment for a test app: quiet logs, a fixed secret; overrides win. */
export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    LOG_LEVEL: 'silent',
    JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long',
    MIGRATE_ON_START: 'false',
    // Suites make many requests from one address; the limiter's own tests set their limits.
    RATE_LIMIT_MAX: '1000000',
    SIGNUP_RATE_LIMIT_MAX: '1000000',
    // Password hashing on a loaded 2-core machine can outlast the 10 s default; the timeout's own tests set 1 s.
    REQUEST_TIMEOUT_SECONDS: '60',
    // No webhook worker polling beside the test; webhook tests drive workers of their own.
    WEBHOOKS: 'off',
    ...overrides,
  }
}

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(testEnv(overrides))
}

let serial = 0

export interface TestDatabase {
  db: Database
  /** Server backend only: the URL of this file's own database, for child processes. */
  url?: string
  drop(): Promise<void>
}

/** A fresh, migrated database of its own: cloned from this run's template when there is one. */
export async function createTestDatabase(backend: BackendName): Promise<TestDatabase> {
  if (backend === 'pglite') {
    const template = process.env.MOODLOG_TEST_PGLITE_TEMPLATE
    const db = await openEmbeddedMemoryDatabase(template ? await readFile(template) : undefined)
    if (!template) await migrate(db)
    return { db, drop: () => db.close() }
  }

  const adminUrl = process.env.TEST_DATABASE_URL
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set')
  const runId = process.env.MOODLOG_TEST_RUN_ID ?? `${Math.floor(Date.now() / 1000)}_${process.pid}`
  const name = `${TEST_DB_PREFIX}${runId}_${process.pid}_${++serial}_${randomBytes(3).toString('hex')}`
  const template = process.env.MOODLOG_TEST_SERVER_TEMPLATE
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database "${name}"${template ? ` template "${template}"` : ''}`)
  } finally {
    await admin.end()
  }
  const url = databaseUrlFor(adminUrl, name)
  // Generous waits to open and to get a connection: test files run in parallel on a busy machine.
  const db = openServerDatabase({ url, poolSize: 5, statementTimeoutMs: 30_000, connectTimeoutMs: 30_000, acquireTimeoutMs: 30_000 })
  if (!template) await migrate(db)
  return {
    db,
    url,
    async drop() {
      await db.close()
      const cleanup = postgres(adminUrl, { max: 1, onnotice: () => {} })
      try {
        await cleanup.unsafe(`drop database if exists "${name}" with (force)`)
      } finally {
        await cleanup.end()
      }
    },
  }
}

export interface Harness {
  readonly backend: BackendName
  readonly app: FastifyInstance
  readonly db: Database
  readonly config: Config
  /** `app.inject` with JSON parsing of the body done for you. */
  request(options: InjectOptions): Promise<LightMyRequestResponse & { json<T = any>(): T }>
}

export interface HarnessOptions {
  /** A function gives each backend an environment of its own (e.g. its own Redis key prefix: user ids start at 1 on both). */
  env?: Record<string, string | undefined> | ((backend: BackendName) => Record<string, string | undefined>)
  plugins?: FastifyPluginAsync[]
}

/**
 * One `describe` per backend; inside it, a database of this file's own and an app built on it,
 * ready in `before` and closed in `after`. Tests create their own users: never assume an empty table.
 */
export function describeEachBackend(title: string, body: (h: Harness) => void, options: HarnessOptions = {}): void {
  for (const backend of backendNames()) {
    describe(`${title} [${backend}]`, () => {
      let testDb: TestDatabase | undefined
      let app: FastifyInstance | undefined
      const config = testConfig(typeof options.env === 'function' ? options.env(backend) : options.env)
      const harness: Harness = {
        backend,
        config,
        get app() {
          if (!app) throw new Error('app not ready')
          return app
        },
        get db() {
          if (!testDb) throw new Error('database not ready')
          return testDb.db
        },
        request: (injectOptions) => harness.app.inject(injectOptions) as never,
      }
      before(async () => {
        testDb = await createTestDatabase(backend)
        app = await buildApp(config, { db: testDb.db, logger: false, plugins: options.plugins })
        await app.ready()
      })
      after(async () => {
        await app?.close()
        await testDb?.drop()
      })
      body(harness)
    })
  }
}
