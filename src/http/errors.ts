export interface FieldError {
  field: string
  message: string
}

/**
 * An error the client can act on: the one error handler turns it into RFC 9457 problem+json.
 * Domain code throws these through the factories below; anything else becomes a 500.
 */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly status: number,
    /** Stable, short identifier; becomes the problem `type` (`/problems/<code>`). */
    readonly code: string,
    readonly title: string,
    detail?: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail ?? title)
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) =>
  new HttpError(400, 'invalid-request', 'Bad Request', detail, errors ? { errors } : {})
export const unauthorized = (detail = 'Missing, invalid or expired credentials.') =>
  new HttpError(401, 'unauthorized', 'Unauthorized', detail, { headers: { 'www-authenticate': 'Bearer' } })
export const notFound = (detail = 'The requested resource does not exist.') => new HttpError(404, 'not-found', 'Not Found', detail)
export const conflict = (detail: string, code = 'conflict') => new HttpError(409, code, 'Conflict', detail)
export const preconditionFailed = (detail = 'The resource has changed; fetch it again and retry.') =>
  new HttpError(412, 'precondition-failed', 'Precondition Failed', detail)
export const unprocessable = (detail: string, code = 'unprocessable') => new HttpError(422, code, 'Unprocessable Content', detail)
export const tooManyRequests = (retryAfterSeconds: number, detail = 'Too many requests; slow down.') =>
  new HttpError(429, 'too-many-requests', 'Too Many Requests', detail, {
    headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  })
/** The client disconnected before it could be answered (nginx's 499); nobody receives it. */
export const clientClosedRequest = (detail: string) => new HttpError(499, 'client-closed-request', 'Client Closed Request', detail)
export const serviceUnavailable = (detail: string, retryAfterSeconds = 5) =>
  new HttpError(503, 'service-unavailable', 'Service Unavailable', detail, {
    headers: { 'retry-after': String(retryAfterSeconds) },
  })
