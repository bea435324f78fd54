import type { Problem } from './api'

export type FieldErrors = Record<string, string>

const sentence = (text: string) => (text ? text[0]!.toUpperCase() + text.slice(1) : text)

/** problem+json `errors[]` keyed by field name (`query.q` → `q`), as messages people can read. */
export function fieldErrors(problem: Problem | undefined): FieldErrors {
  const out: FieldErrors = {}
  for (const { field, message } of problem?.errors ?? []) {
    const name = field.replace(/^(query|params|headers)\./, '')
    out[name] ??= sentence(message)
  }
  return out
}

/** The message to show when no field is named: the problem's detail, or something useful when offline. */
export function problemMessage(problem: Problem | undefined, fallback = 'Something went wrong. Please try again.'): string {
  return problem?.detail || problem?.title || fallback
}
