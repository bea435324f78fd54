/**
 * Why a client's string cannot be stored or compared as text, or undefined when it can: Postgres
 * refuses NUL (it would surface as a 500), and a lone surrogate cannot be encoded as UTF-8 (drivers
 * would silently store U+FFFD instead, so two different inputs would become one value).
 */
export function unsafeStringProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL characters'
  if (/\p{Surrogate}/u.test(value)) return 'must be well-formed Unicode (no lone surrogates)'
  return undefined
}
