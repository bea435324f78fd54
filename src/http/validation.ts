import { Ajv, type Options } from 'ajv'
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
 * params and headers arrive as text and are coerced to their schema types.
 */
export const validationPlugin = fp(
  async function validation(app: FastifyInstance) {
    const bodyAjv = makeAjv({ coerceTypes: false })
    const textAjv = makeAjv({ coerceTypes: 'array' })
    app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as FastifySchema & object))
  },
  { name: 'moodlog-validation' },
)

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
