import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { currentUser } from './plugin.js'
import * as schemas from './schemas.js'
import * as auth from './service.js'
import * as web from './web-session.js'
import { findUserById } from './queries.js'
import { notFound } from '../http/errors.js'
import { clientGoneSignal } from '../http/lifecycle.js'
import { clientAddress } from '../http/rate-limit.js'

const bearer = [{ bearerAuth: [] }]
const NoContent = { 204: Type.Null({ description: 'Done; no content' }) }

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = app.auth
  const { signupRateLimitMax, signupRateLimitWindowSeconds } = app.config
  // Each sign-up costs a password hash: its own, stricter limit per client address (replacing the
  // general one on this route), with a counter of its own.
  const signupLimit =
    signupRateLimitMax > 0 ? { rateLimit: { max: signupRateLimitMax, timeWindow: signupRateLimitWindowSeconds * 1000 } } : {}

  app.post(
    '/register',
    {
      config: { ...signupLimit, openapi: { errors: [409], headers: { 201: ['Location'] }, responses: { 201: 'The new account' } } },
      schema: {
        operationId: 'register',
        tags: ['accounts'],
        summary: 'Create an account',
        body: schemas.Credentials,
        response: { 201: schemas.User },
      },
    },
    async (request, reply) => {
      const user = await auth.register(deps, request.body.email, request.body.password)
      return reply
        .code(201)
        .header('location', '/me')
        .send(user as never)
    },
  )

  app.post(
    '/login',
    {
      config: { openapi: { errors: [401], responses: { 200: 'Signed in: a new access token and refresh token' } } },
      schema: {
        operationId: 'login',
        tags: ['accounts'],
        summary: 'Sign in: an access token and a refresh token',
        description: 'Unknown email and wrong password get the same 401. Repeated failures are throttled (429).',
        headers: web.ClientHeaders,
        body: schemas.LoginBody,
        response: { 200: web.TokenResponse },
      },
    },
    async (request, reply) =>
      web.signedIn(
        request,
        reply,
        await auth.login(deps, request.body.email, request.body.password, clientAddress(request), clientGoneSignal(reply)),
        deps.refreshTtlSeconds,
      ),
  )

  app.post(
    '/token/refresh',
    {
      ...web.cookieRoute,
      config: { openapi: { errors: [401, 403], responses: { 200: 'A new access token and refresh token; the presented one is spent' } } },
      schema: {
        operationId: 'refreshToken',
        tags: ['accounts'],
        summary: 'Exchange a refresh token for a new pair (the old one is spent)',
        headers: web.ClientHeaders,
        cookies: web.SessionCookie,
        body: web.RefreshBody,
        response: { 200: web.TokenResponse },
      },
    },
    async (request, reply) => web.refreshed(request, reply, (token) => auth.refresh(deps, token), deps.refreshTtlSeconds),
  )

  app.post(
    '/logout',
    {
      ...web.cookieRoute,
      config: { openapi: { errors: [401, 403] } },
      schema: {
        operationId: 'logout',
        tags: ['accounts'],
        summary: 'End the session of this refresh token',
        description:
          'Idempotent, as clients retry it: a genuine token whose session has already ended (signed out, expired, revoked) is 204 again. ' +
          'Only a token this server never issued, or one whose account was deleted, is 401.',
        headers: web.ClientHeaders,
        cookies: web.SessionCookie,
        body: web.RefreshBody,
        response: { 204: web.SignedOut },
      },
    },
    async (request, reply) => {
      await web.signedOut(request, reply, (token) => auth.logout(deps, token))
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/logout/all',
    {
      preParsing: app.authenticate,
      schema: {
        operationId: 'logoutAll',
        tags: ['accounts'],
        summary: 'End every session of the user',
        security: bearer,
        response: NoContent,
      },
    },
    async (request, reply) => {
      await auth.logoutAll(deps, currentUser(request).userId)
      return reply.code(204).send(null)
    },
  )

  app.get(
    '/me',
    {
      preParsing: app.authenticate,
      config: { openapi: { errors: [404], responses: { 200: 'The account of the access token' } } },
      schema: {
        operationId: 'getMe',
        tags: ['accounts'],
        summary: 'The signed-in user',
        security: bearer,
        response: { 200: schemas.User },
      },
    },
    async (request) => {
      const user = await findUserById(app.db, currentUser(request).userId)
      if (!user) throw notFound()
      return { id: user.id, email: user.email, createdAt: user.createdAt } as never
    },
  )

  app.patch(
    '/me/password',
    {
      preParsing: app.authenticate,
      config: { openapi: { errors: [403] } },
      schema: {
        operationId: 'changePassword',
        tags: ['accounts'],
        summary: 'Change the password; every other session is signed out',
        security: bearer,
        body: schemas.ChangePasswordBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      await auth.changePassword(deps, currentUser(request), request.body.currentPassword, request.body.newPassword, clientAddress(request))
      return reply.code(204).send(null)
    },
  )

  app.delete(
    '/me',
    {
      preParsing: app.authenticate,
      config: { openapi: { errors: [403] } },
      schema: {
        operationId: 'deleteAccount',
        tags: ['accounts'],
        summary: 'Delete the account and every entry',
        security: bearer,
        body: schemas.DeleteAccountBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      await auth.deleteAccount(deps, currentUser(request).userId, request.body.password, clientAddress(request))
      return reply.code(204).send(null)
    },
  )
}

export default authRoutes
