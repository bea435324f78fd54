import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { generateSchema, SCHEMA_FILE } from '../scripts/api-client.js'

test('when a route schema changes, then the committed web client types are regenerated with it (npm run api:generate)', async () => {
  const committed = await readFile(SCHEMA_FILE, 'utf8')
  const generated = await generateSchema()
  assert.ok(committed === generated, 'web/src/api/schema.d.ts is stale: run `npm run api:generate` and commit the result')
})

test('when the document is turned into types, then every operation of the API is in them', async () => {
  const committed = await readFile(SCHEMA_FILE, 'utf8')
  for (const path of ['/login', '/token/refresh', '/logout', '/entries', '/entries/{id}', '/stats', '/me']) {
    assert.ok(committed.includes(`'${path}': {`), `${path} is missing from the generated types`)
  }
})
