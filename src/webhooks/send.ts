import http from 'node:http'
import https from 'node:https'
import { parseTargetUrl, pinnedLookup, resolveTarget, TargetRefused, type ResolvedAddress, type TargetPolicy } from './target.js'

export interface SendRequest {
  url: URL
  /** The checked address; the connection goes there and nowhere else. */
  target: ResolvedAddress
  headers: Record<string, string>
  body: string
  signal: AbortSignal
}

export interface SendResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The first 1 KB of the body, as text. */
  excerpt: string
}

/** Sends one request; rejects on network errors and when `signal` aborts. Replaceable in tests. */
export type Transport = (request: SendRequest) => Promise<SendResponse>

const EXCERPT_BYTES = 1024

/**
 * node:http(s) with the address pinned; redirects are never followed (node:http does not follow them).
 * Once the status line has arrived, `signal` only stops the reading of the body: the answer is what
 * was read by then (a 2xx that never finishes its body was still received).
 */
export const httpTransport: Transport = ({ url, target, headers, body, signal }) =>
  new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http
    const request = client.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: pinnedLookup(target) as never,
      // A connection of its own each time: a pooled socket would skip the per-delivery check.
      agent: false,
      signal,
    })
    request.on('error', reject)
    request.on('response', (response) => {
      const chunks: Buffer[] = []
      let size = 0
      const done = () => {
        signal.removeEventListener('abort', done)
        response.destroy()
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          excerpt: Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8'),
        })
      }
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        size += chunk.length
        if (size >= EXCERPT_BYTES) done()
      })
      response.on('end', done)
      response.on('error', reject)
      if (signal.aborted) done()
      else signal.addEventListener('abort', done, { once: true })
    })
    request.end(body)
  })

export interface AttemptResult {
  statusCode: number | null
  /** Why it failed (null on success): a timeout, a refused address, a network error, a non-2xx answer. */
  error: string | null
  response: string | null
  retryAfterSeconds: number | null
  /** The address was refused, or the host does not resolve. */
  refused: boolean
  timedOut: boolean
}

/** IMF-fixdate, the one HTTP-date form a sender may generate (RFC 9110 §5.6.7). */
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/

/**
 * Seconds, or an HTTP date (RFC 9110 §10.2.3); anything else is ignored (null). Read strictly:
 * `Date.parse` would find a date in almost any text ("garbage 2099").
 */
export function parseRetryAfter(value: string | string[] | undefined, now: Date): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim()
  if (!text) return null
  if (/^\d+$/.test(text)) return Number(text)
  if (!IMF_FIXDATE.test(text)) return null
  const date = Date.parse(text)
  return Number.isNaN(date) ? null : Math.max(0, (date - now.getTime()) / 1000)
}

/**
 * One attempt: check the target (scheme and address, before any socket exists), then POST; the
 * lookup and the answer's status line both come within `timeoutMs`. Success is a 2xx status; a
 * 3xx is a failure like any other (its Location is not followed).
 */
export async function attempt(
  policy: TargetPolicy,
  transport: Transport,
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  shutdown: AbortSignal,
  now: Date,
): Promise<AttemptResult> {
  const failed = (error: string, extra: Partial<AttemptResult> = {}): AttemptResult => ({
    statusCode: null,
    error,
    response: null,
    retryAfterSeconds: null,
    refused: false,
    timedOut: false,
    ...extra,
  })
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = AbortSignal.any([timeout, shutdown])
  try {
    // The policy of now, not of the registration: an endpoint registered while http was allowed stops being sent to.
    const url = parseTargetUrl(rawUrl, policy)
    const target = await resolveTarget(url, policy, signal)
    const response = await transport({ url, target, headers, body, signal })
    const ok = response.status >= 200 && response.status < 300
    return {
      statusCode: response.status,
      error: ok ? null : `HTTP ${response.status}`,
      response: response.excerpt,
      retryAfterSeconds: response.status === 429 || response.status === 503 ? parseRetryAfter(response.headers['retry-after'], now) : null,
      refused: false,
      timedOut: false,
    }
  } catch (error) {
    if (error instanceof TargetRefused) return failed(`refused: ${error.message}`, { refused: true })
    if (timeout.aborted) return failed(`no answer within ${timeoutMs / 1000} s`, { timedOut: true })
    if (shutdown.aborted) return failed('interrupted by shutdown')
    const code = (error as { code?: string }).code
    return failed(code ? `network error: ${code}` : `network error: ${(error as Error).message}`)
  }
}
