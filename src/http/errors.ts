export interface FieldError {
  field: string
  message: string
}

/** The one list of problem titles, by status (RFC 9110's reason phrases). */
const STATUS_TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

export const titleOf = (status: number): string => STATUS_TITLES[status] ?? 'Error'

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
  new HttpError(400, 'invalid-request', titleOf(400), detail, errors ? { errors } : {})
/** 401 for credentials sent in the body (a refresh token): no bearer challenge, RFC 6750 does not apply. */
export const unauthorized = (detail = 'Missing, invalid or expired credentials.') =>
  new HttpError(401, 'unauthorized', titleOf(401), detail)
/**
 * 401 of a bearer-protected route, with the RFC 6750 §3 challenge: a bare `Bearer` when the request
 * carried no bearer token, `error="invalid_token"` when the one it carried is refused.
 */
export const bearerUnauthorized = (detail: string, tokenSent: boolean) =>
  new HttpError(401, 'unauthorized', titleOf(401), detail, { headers: { 'www-authenticate': bearerChallenge(tokenSent) } })
export const bearerChallenge = (tokenSent: boolean) => (tokenSent ? 'Bearer error="invalid_token"' : 'Bearer')
export const notFound = (detail = 'The requested resource does not exist.') => new HttpError(404, 'not-found', titleOf(404), detail)
export const conflict = (detail: string, code = 'conflict') => new HttpError(409, code, titleOf(409), detail)
export const preconditionFailed = (detail = 'The resource has changed; fetch it again and retry.') =>
  new HttpError(412, 'precondition-failed', titleOf(412), detail)
export const unprocessable = (detail: string, code = 'unprocessable') => new HttpError(422, code, titleOf(422), detail)
export const tooManyRequests = (retryAfterSeconds: number, detail = 'Too many requests; slow down.') =>
  new HttpError(429, 'too-many-requests', titleOf(429), detail, {
    headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  })
