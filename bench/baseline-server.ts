/**
 * The bare baseline: a minimal Fastify server with no auth, validation, limits, cache or logging,
 * running moodlog's own SQL (the functions of src/entries/queries.ts, so the text is identical)
 * through the driver named by BASELINE_DRIVER (`postgres` = postgres.js through moodlog's adapter,
 * `pg` = node-postgres with named prepared statements) with a pool of BASELINE_POOL connections.
 * The user comes from `?user=`. Run as its own process by the harness.
 */
import { createHash } from 'node:crypto'
import Fastify from 'fastify'
import pg from 'pg'
import type { Queryable } from '../src/db/index.js'
import { openServerDatabase } from '../src/db/server.js'
import { entryTotal, findEntry, insertEntry, listEntries, type EntryInput } from '../src/entries/queries.js'

interface Driver extends Queryable {
  close(): Promise<void>
}

function postgresJs(url: string, poolSize: number): Driver {
  const db = openServerDatabase({ url, poolSize, statementTimeoutMs: 10_000 })
  return { query: db.query, close: () => db.close() }
}

function nodePostgres(url: string, poolSize: number): Driver {
  // int8 as a JS number, like moodlog's adapters.
  const types = { getTypeParser: (oid: number, format?: string) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text')) }
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    types: types as pg.CustomTypesConfig,
    application_name: 'moodlog-bench-baseline',
  })
  const names = new Map<string, string>()
  return {
    async query(text, params = []) {
      // Named statements are prepared once per connection, as postgres.js does with `prepare: true`.
      let name = names.get(text)
      if (!name) {
        name = `q${createHash('sha1').update(text).digest('hex').slice(0, 16)}`
        names.set(text, name)
      }
      const result = await pool.query({ name, text, values: params as unknown[] })
      return result.rows
    },
    close: () => pool.end(),
  }
}

const url = process.env.DATABASE_URL
if (!url) throw new Error('DATABASE_URL is required')
const driverName = process.env.BASELINE_DRIVER ?? 'postgres'
const poolSize = Number(process.env.BASELINE_POOL ?? 10)
const db = driverName === 'pg' ? nodePostgres(url, poolSize) : postgresJs(url, poolSize)

const app = Fastify({ logger: false })
const userOf = (query: unknown) => Number((query as { user?: string }).user)

app.get('/readyz', async () => {
  await db.query('select 1')
  return { status: 'ok' }
})

// What GET /entries runs unfiltered: one page (plus one row to know whether more follow) and the kept total, together.
app.get('/entries', async (request) => {
  const userId = userOf(request.query)
  const limit = Number((request.query as { limit?: string }).limit ?? 20)
  const [rows, total] = await Promise.all([listEntries(db, userId, {}, { offset: 0, limit: limit + 1 }), entryTotal(db, userId)])
  return { items: rows.slice(0, limit), nextCursor: null, total }
})

app.get('/entries/:id', async (request, reply) => {
  const row = await findEntry(db, userOf(request.query), Number((request.params as { id: string }).id))
  return row ?? reply.code(404).send()
})

app.post('/entries', async (request, reply) => {
  const row = await insertEntry(db, userOf(request.query), request.body as EntryInput)
  return reply.code(201).send(row)
})

app.addHook('onClose', () => db.close())
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.close().finally(() => process.exit(0))
  })
}

await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
