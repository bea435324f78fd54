import { randomUUID } from 'node:crypto'
import assert from 'node:assert/strict'
import type { Harness } from './harness.js'

export interface SignedIn {
  id: number
  email: string
  password: string
  accessToken: string
  refreshToken: string
  auth: { authorization: string }
}

export function uniqueEmail(): string {
  return `user-${randomUUID()}@example.test`
}

/** Registers a new user with a unique email and signs in. */
export async function signUp(h: Harness, password = 'correct horse battery staple'): Promise<SignedIn> {
  const email = uniqueEmail()
  const registered = await h.request({ method: 'POST', url: '/register', payload: { email, password } })
  assert.equal(registered.statusCode, 201, registered.body)
  const tokens = await signIn(h, email, password)
  return { id: registered.json().id, email, password, ...tokens }
}

export async function signIn(h: Harness, email: string, password: string) {
  const res = await h.request({ method: 'POST', url: '/login', payload: { email, password } })
  assert.equal(res.statusCode, 200, res.body)
  const { accessToken, refreshToken } = res.json()
  return { accessToken, refreshToken, auth: { authorization: `Bearer ${accessToken}` } }
}
