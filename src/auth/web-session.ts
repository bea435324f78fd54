/**
 * The web UI's session: the refresh token lives in an HttpOnly cookie the page's scripts cannot
 * read, the access token only in response bodies (kept in memory by the UI). Opted into with
 * `X-Moodlog-Client: web` on /login, /token/refresh and /logout; API clients that send their
 * refresh token in the JSON body see no difference.
 *
 * The cookie is `SameSite=Strict` and scoped to the two paths that take it (a cookie has one
 * path, so it is set twice and both copies rotate together). Cookie-based refresh and logout are
 * CSRF-checked as well: a request carrying the cookie must come from this origin (`Origin`, when
 * the browser sends it, must match) and must carry the custom header, which a cross-site form
 * cannot set, unless its `Origin` matches. See OWASP's CSRF cheat sheet ("custom request headers",
 * "verifying origin with standard headers").
 *
 * Cookies are read and written with the `cookie` package (1.x, Node 18+): @fastify/cookie's
 * current releases need cookie 2, which requires Node 22, and two functions is all this needs.
 */
import { parseCookie, stringifySetCookie, type SetCookie } from 'cookie'
import type { FastifyReply, FastifyRequest, onRequestHookHandler, preValidationHookHandler } from 'fastify'
import { Type, type Static } from 'typebox'
import { badRequest, HttpError, unauthorized } from '../http/errors.js'
import type { TokenPair } from './service.js'

export const REFRESH_COOKIE = 'moodlog_refresh'
export const CLIENT_HEADER = 'x-moodlog-client'
/** The paths the cookie is sent to; nothing else ever sees the refresh token. */
export const COOKIE_PATHS = ['/token/refresh', '/logout'] as const

const cookieDescription =
  `\`${REFRESH_COOKIE}\`: the refresh token of a web session (HttpOnly; SameSite=Strict; Secure over https; ` +
  `Path=${COOKIE_PATHS.join(' and Path=')}), set with \`X-Moodlog-Client: web\`.`

/** Request header of the three session routes (OpenAPI: a header parameter). */
export const ClientHeaders = Type.Object({
  [CLIENT_HEADER]: Type.Optional(
    Type.Literal('web', {
      description:
        'Web session: the refresh token is set as the HttpOnly cookie `moodlog_refresh` instead of being returned, and /token/refresh and /logout read it from there when the body has none.',
    }),
  ),
})

/** Documents the cookie parameter of /token/refresh and /logout (Fastify itself does not validate cookies). */
export const SessionCookie = Type.Object({ [REFRESH_COOKIE]: Type.Optional(Type.String({ description: cookieDescription })) })

const setCookieHeaders = (what: string) => ({
  'set-cookie': {
    type: 'string',
    description: `With \`X-Moodlog-Client: web\`: ${what} (\`${REFRESH_COOKIE}\`, once per path: ${COOKIE_PATHS.join(', ')}).`,
  },
})

/** The token answer: `refreshToken` is left out for web clients, who get it as the cookie. */
export const TokenResponse = Type.Object(
  {
    accessToken: Type.String(),
    refreshToken: Type.Optional(
      Type.String({ description: 'Absent with `X-Moodlog-Client: web`: it is in the `moodlog_refresh` cookie.' }),
    ),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ description: 'Access token lifetime in seconds.' }),
  },
  { headers: setCookieHeaders('the new refresh token') },
)

export const SignedOut = Type.Null({ description: 'Done; no content', headers: setCookieHeaders('the cookie cleared') })

/** `refreshToken` may be left out when the web session cookie carries it. */
export const RefreshBody = Type.Object(
  {
    refreshToken: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Required unless the `moodlog_refresh` cookie is sent (web clients).' }),
    ),
  },
  { additionalProperties: false },
)
type RefreshBodyValue = Static<typeof RefreshBody> | undefined

const isWebClient = (request: FastifyRequest) => request.headers[CLIENT_HEADER] === 'web'

function cookieToken(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie
  if (!header) return undefined
  return parseCookie(header)[REFRESH_COOKIE] || undefined
}

/** undefined when the browser sent no Origin (same-origin GETs, some older browsers). */
function originMatches(request: FastifyRequest): boolean | undefined {
  const origin = request.headers.origin
  if (origin === undefined) return undefined
  // protocol and host follow X-Forwarded-Proto/-Host only when TRUST_PROXY says so.
  return origin === `${request.protocol}://${request.host}`
}

const csrfRefused = (detail: string) => new HttpError(403, 'csrf', 'Forbidden', detail)

/**
 * onRequest of /token/refresh and /logout: a request carrying the session cookie from another
 * origin, or without the custom header and without a matching Origin, is refused before its body
 * is read, whatever the body (JSON, a form, text/plain).
 */
export const csrfGuard: onRequestHookHandler = (request, _reply, done) => {
  if (cookieToken(request) === undefined) return done()
  const origin = originMatches(request)
  if (origin === false) return done(csrfRefused('The session cookie is only accepted from this site’s own pages (Origin does not match).'))
  if (origin === undefined && !isWebClient(request)) {
    return done(csrfRefused('A request using the session cookie must send `X-Moodlog-Client: web`.'))
  }
  done()
}

/** preValidation: a web client may send no body at all; the cookie carries the token. */
export const allowEmptyBody: preValidationHookHandler = (request, _reply, done) => {
  if (request.body === undefined && (isWebClient(request) || cookieToken(request) !== undefined)) request.body = {}
  done()
}

/** Route options for the two routes that accept the cookie. */
export const cookieRoute = { onRequest: csrfGuard, preValidation: allowEmptyBody }

/**
 * The refresh token of the request: the body's (API clients) or, without one, the cookie's;
 * undefined for a web client that has neither (signed out, or the cookie expired).
 */
function presentedToken(request: FastifyRequest): { token: string; fromCookie: boolean } | undefined {
  const fromBody = (request.body as RefreshBodyValue)?.refreshToken
  if (fromBody !== undefined) return { token: fromBody, fromCookie: false }
  const fromCookie = cookieToken(request)
  if (fromCookie !== undefined) return { token: fromCookie, fromCookie: true }
  if (isWebClient(request)) return undefined
  throw badRequest('body must have required property refreshToken', [{ field: 'refreshToken', message: 'is required' }])
}

function setSessionCookies(request: FastifyRequest, reply: FastifyReply, value: string, maxAge: number): void {
  const attributes: Omit<SetCookie, 'path'> = {
    name: REFRESH_COOKIE,
    value,
    httpOnly: true,
    sameSite: 'strict',
    secure: request.protocol === 'https',
    maxAge,
  }
  reply.header(
    'set-cookie',
    COOKIE_PATHS.map((path) => stringifySetCookie({ ...attributes, path })),
  )
}

/** The answer of /login and /token/refresh: web clients get the refresh token as the cookie only. */
function answer(request: FastifyRequest, reply: FastifyReply, pair: TokenPair, web: boolean, refreshTtlSeconds: number) {
  // An answer carrying a token is never kept by a browser or a proxy (RFC 6749 §5.1).
  reply.header('cache-control', 'no-store')
  if (!web) return pair
  setSessionCookies(request, reply, pair.refreshToken, refreshTtlSeconds)
  return { accessToken: pair.accessToken, tokenType: pair.tokenType, expiresIn: pair.expiresIn }
}

export function signedIn(request: FastifyRequest, reply: FastifyReply, pair: TokenPair, refreshTtlSeconds: number) {
  return answer(request, reply, pair, isWebClient(request), refreshTtlSeconds)
}

/**
 * /token/refresh: rotates the cookie with the token. A cookie that fails (expired, signed out, or
 * a spent one presented again, which also ends its session family) is cleared.
 */
export async function refreshed(
  request: FastifyRequest,
  reply: FastifyReply,
  refresh: (token: string) => Promise<TokenPair>,
  refreshTtlSeconds: number,
) {
  const presented = presentedToken(request)
  if (!presented) throw unauthorized('No web session: sign in.')
  const { token, fromCookie } = presented
  try {
    return answer(request, reply, await refresh(token), fromCookie || isWebClient(request), refreshTtlSeconds)
  } catch (error) {
    if (fromCookie) setSessionCookies(request, reply, '', 0)
    throw error
  }
}

/**
 * /logout: ends the session of the presented token. A web client's cookie is cleared whatever the
 * outcome, and a web client without one is already signed out (204).
 */
export async function signedOut(request: FastifyRequest, reply: FastifyReply, logout: (token: string) => Promise<void>): Promise<void> {
  const presented = presentedToken(request)
  if (presented?.fromCookie || isWebClient(request)) setSessionCookies(request, reply, '', 0)
  if (presented) await logout(presented.token)
}
