import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { Status as HealthStatus } from '../health/routes.js'
import { Stats, StatsQuery } from '../stats/schemas.js'
import { Category, CreateEntryBody, ListQuery, WriteHeaders } from './schemas.js'

/** The schemas as a strict client generator or validating proxy reads them. */
describe('entry and statistics schemas', () => {
  test('when a client omits limit, then the document does not call it required (it has a default)', () => {
    assert.ok(!((ListQuery.required ?? []) as string[]).includes('limit'))
    assert.equal((ListQuery.properties.limit as { default?: unknown }).default, 20)
  })

  test('when a validator applies the category schema, then it accepts exactly 1 to 50 characters after trimming', () => {
    const ajv = new Ajv({ strict: false })
    addFormats.default(ajv)
    const valid = ajv.compile(Category)
    for (const ok of ['a', ' work ', 'c'.repeat(50), ` ${'😀'.repeat(50)}\t`, 'two words']) assert.ok(valid(ok), JSON.stringify(ok))
    for (const bad of ['', '   ', 'c'.repeat(51), ` ${'😀'.repeat(51)} `]) assert.ok(!valid(bad), JSON.stringify(bad))
    assert.equal(CreateEntryBody.properties.category, Category)
    assert.equal((ListQuery.properties.category as { pattern?: string }).pattern, (Category as { pattern?: string }).pattern)
  })

  test('when enums are documented, then each is a typed string enum, never an anyOf of single values', () => {
    for (const schema of [StatsQuery.properties.bucket, Stats.properties.bucket, ...Object.values(HealthStatus.properties)]) {
      const plain = schema as { type?: string; enum?: unknown[]; anyOf?: unknown }
      assert.equal(plain.type, 'string', JSON.stringify(schema))
      assert.ok(Array.isArray(plain.enum), JSON.stringify(schema))
      assert.equal(plain.anyOf, undefined)
    }
  })

  test('when a write is conditional, then both If-Match and If-None-Match are documented', () => {
    assert.deepEqual(Object.keys(WriteHeaders.properties).sort(), ['if-match', 'if-none-match'])
  })
})
