import { Ajv, type Options, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance, FastifySchema } from 'fastify'
import fp from 'fastify-plugin'
import type { FieldError } from './errors.js'

function makeAjv(options: Options): Ajv {
  // The same base options Fastify uses, minus removeAdditional: unknown fields are an error, not silently dropped.
  const ajv = new Ajv({ useDefaults: true, removeAdditional: false, allErrors: true, strict: false, ...options })
  addFormats.default(ajv)
  return ajv
}

/**
 * Bodies are validated without type coercion (`"mood": "5"` is a 400, not 5); query strings,
 * params and headers arrive as text and are coerced to their schema types, numbers only from
 * plain decimal text (see `plainNumbers`).
 */
export const validationPlugin = fp(
  async function validation(app: FastifyInstance) {
    const bodyAjv = makeAjv({ coerceTypes: false })
    const textAjv = makeAjv({ coerceTypes: 'array' })
    app.setValidatorCompiler(({ schema, httpPart }) =>
      httpPart === 'body' ? bodyAjv.compile(schema as FastifySchema & object) : plainNumbers(schema, textAjv.compile(schema as object)),
    )
  },
  { name: 'moodlog-validation' },
)

/** What a number in a query string, path or header may look like: `10`, `-3`, `2.5`; not `0x10`, `1e1`, ` 10`, `+10`, `010`, `.5`. */
const PLAIN = { integer: /^(0|-?[1-9][0-9]*)$/, number: /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/ }
type Numeric = keyof typeof PLAIN

interface TextSchema {
  type?: unknown
  items?: TextSchema
  properties?: Record<string, TextSchema>
}

const numericType = (schema: TextSchema | undefined): Numeric | undefined =>
  schema?.type === 'integer' || schema?.type === 'number' ? schema.type : undefined

/**
 * Ajv's coercion turns any text JavaScript reads as a number into one (`Number('0x10')` is 16,
 * `Number(' 1e1')` is 10), so `limit=0x10` would pass as 16. Each numeric property of a text part
 * (or each item of a repeated one) is checked against the plain decimal form first, and refused
 * like any other invalid value; everything else is left to Ajv.
 */
function plainNumbers(schema: unknown, validate: ValidateFunction): ValidateFunction {
  const numeric = Object.entries((schema as TextSchema).properties ?? {}).flatMap(([name, property]) => {
    const type = numericType(property) ?? (property.type === 'array' ? numericType(property.items) : undefined)
    return type ? [[name, type] as const] : []
  })
  if (numeric.length === 0) return validate
  const checked = ((data: unknown) => {
    const values = (data ?? {}) as Record<string, unknown>
    for (const [name, type] of numeric) {
      const value = values[name]
      for (const text of Array.isArray(value) ? value : [value]) {
        if (typeof text === 'string' && !PLAIN[type].test(text)) {
          checked.errors = [
            {
              instancePath: `/${name}`,
              schemaPath: '',
              keyword: 'type',
              params: { type },
              message: `must be ${type === 'integer' ? 'an integer' : 'a number'} in plain decimal digits`,
            },
          ]
          return false
        }
      }
    }
    const valid = validate(data)
    checked.errors = validate.errors
    return valid
  }) as ValidateFunction
  return checked
}

interface AjvIssue {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

/** Ajv issues as `{ field, message }`, with field paths a client can map to its form. */
export function fieldErrors(issues: readonly AjvIssue[], context: string | undefined): FieldError[] {
  const prefix = context === 'body' || context === undefined ? '' : `${context === 'querystring' ? 'query' : context}.`
  return issues.map((issue) => {
    const path = issue.instancePath.split('/').filter(Boolean).join('.')
    const join = (name: unknown) => [path, String(name)].filter(Boolean).join('.')
    if (issue.keyword === 'required') {
      return { field: prefix + join(issue.params.missingProperty), message: 'is required' }
    }
    if (issue.keyword === 'additionalProperties') {
      const what = context === 'querystring' ? 'is not a known query parameter' : 'is not an allowed field'
      return { field: prefix + join(issue.params.additionalProperty), message: what }
    }
    return { field: prefix + (path || '(root)'), message: issue.message ?? 'is invalid' }
  })
}
