import type { Middleware } from 'openapi-fetch'
import { createApi, type Api, type paths, type Problem } from '../api/client'

export type { Api, Problem }
export type Entry = paths['/entries/{id}']['get']['responses'][200]['content']['application/json']
export type EntryQuery = NonNullable<paths['/entries']['get']['parameters']['query']>
export type Stats = paths['/stats']['get']['responses'][200]['content']['application/json']
export type Bucket = Stats['bucket']

export type SessionState = 'restoring' | 'signed-in' | 'signed-out'

export interface SignInResult {
  ok: boolean
  problem?: Problem
  retryAfterSeconds?: number
}

/** Account calls that must never trigger a refresh-and-retry of their own. */
const SESSION_PATHS = ['/login', '/register', '/token/refresh', '/logout']

/**
 * The signed-in session. The access token lives only in this closure (never in storage); the
 * refresh token is a cookie page scripts cannot read. `api` adds the bearer token and, on a
 * 401, refreshes once and repeats the request.
 */
export function createSession(baseUrl = window.location.origin) {
  let accessToken: string | null = null
  let state: SessionState = 'restoring'
  let ended = false
  let refreshing: Promise<boolean> | null = null
  const listeners = new Set<(state: SessionState) => void>()

  /** Calls that manage the session itself: no bearer token, no retry. */
  const plain = createApi({ baseUrl })

  const setState = (next: SessionState) => {
    state = next
    for (const listener of listeners) listener(next)
  }

  const accept = (token: string) => {
    accessToken = token
    ended = false
    setState('signed-in')
  }

  const drop = (sessionEnded: boolean) => {
    accessToken = null
    ended = sessionEnded
    setState('signed-out')
  }

  /** One refresh at a time: the cookie rotates, so a second concurrent refresh would present a spent token. */
  const refresh = (): Promise<boolean> => {
    refreshing ??= plain
      // With the web header and no body, the server reads the refresh token from its cookie.
      .POST('/token/refresh', { body: undefined as never })
      .then(({ data }) => {
        if (data) {
          accessToken = data.accessToken
          return true
        }
        return false
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null
      })
    return refreshing
  }

  const pending = new Map<string, Request>()
  const auth: Middleware = {
    onRequest({ request, id, schemaPath }) {
      if (SESSION_PATHS.includes(schemaPath)) return request
      if (accessToken) request.headers.set('Authorization', `Bearer ${accessToken}`)
      pending.set(id, request.clone())
      return request
    },
    async onResponse({ response, id, schemaPath }) {
      const original = pending.get(id)
      pending.delete(id)
      if (response.status !== 401 || !original || SESSION_PATHS.includes(schemaPath)) return response
      if (!(await refresh())) {
        drop(true)
        return response
      }
      original.headers.set('Authorization', `Bearer ${accessToken}`)
      const retried = await fetch(original)
      if (retried.status === 401) drop(true)
      return retried
    },
    onError({ id }) {
      pending.delete(id)
    },
  }
  const api = createApi({ baseUrl })
  api.use(auth)

  return {
    api,
    get state() {
      return state
    },
    /** True when the server ended the session (expired, signed out elsewhere), not the user here. */
    get ended() {
      return ended
    },
    subscribe(listener: (state: SessionState) => void) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    /** On load: the cookie, if any, becomes an access token. */
    async restore(): Promise<void> {
      if (await refresh()) setState('signed-in')
      else drop(false)
    },
    async signIn(email: string, password: string): Promise<SignInResult> {
      const { data, error, response } = await plain.POST('/login', { body: { email, password } })
      if (data) {
        accept(data.accessToken)
        return { ok: true }
      }
      const retryAfter = Number(response.headers.get('retry-after'))
      return { ok: false, problem: error, ...(retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}) }
    },
    async signUp(email: string, password: string): Promise<SignInResult> {
      const { error } = await plain.POST('/register', { body: { email, password } })
      if (error) return { ok: false, problem: error }
      return this.signIn(email, password)
    },
    async signOut(): Promise<void> {
      await plain.POST('/logout', { body: undefined as never }).catch(() => undefined)
      drop(false)
    },
    /** After "sign out everywhere", a deleted account or a changed password elsewhere. */
    forget(): void {
      drop(false)
    },
  }
}

export type Session = ReturnType<typeof createSession>
