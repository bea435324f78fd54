import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { currentUser } from '../auth/plugin.js'
import { resolveJwtSecret } from '../auth/secret.js'
import { sendCached } from '../cache/send-cached.js'
import { CursorCodec } from './cursor.js'
import { etagOf, noneMatchFails } from './preconditions.js'
import * as schemas from './schemas.js'
import * as entries from './service.js'

const security = [{ bearerAuth: [] }]
const tags = ['entries']

const entriesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps: entries.EntriesDeps = {
    db: app.db,
    cursors: new CursorCodec(await resolveJwtSecret(app.config)),
    cache: app.cache,
  }
  const userOf = (request: Parameters<typeof currentUser>[0]) => currentUser(request).userId

  app.post(
    '/entries',
    {
      preParsing: app.authenticate,
      config: {
        openapi: {
          errors: [409, 422],
          headers: { 201: ['Location', 'ETag', 'Idempotent-Replayed'] },
          responses: { 201: 'The new entry (or, on a replay, the entry the first request created)' },
        },
      },
      schema: {
        operationId: 'createEntry',
        tags,
        security,
        summary: 'Create an entry',
        description:
          'With `Idempotency-Key`, a retry with the same body returns the original response (and creates nothing); ' +
          'the same key with another body is 422. A duplicate sent while the first is still running waits for it (up to 2 s) ' +
          'and then gets its response; if the first is still running after that, 409 with `Retry-After`.',
        headers: schemas.CreateHeaders,
        body: schemas.CreateEntryBody,
        response: { 201: schemas.Entry },
      },
    },
    async (request, reply) => {
      const { entry, replayed } = await entries.createEntry(deps, userOf(request), request.body, request.headers['idempotency-key'])
      if (replayed) reply.header('idempotent-replayed', 'true')
      return reply.code(201).header('location', `/entries/${entry.id}`).header('etag', etagOf(entry)).send(entry)
    },
  )

  app.get(
    '/entries',
    {
      preParsing: app.authenticate,
      config: { openapi: { responses: { 200: 'A page of entries' } } },
      schema: {
        operationId: 'listEntries',
        tags,
        security,
        summary: 'List entries, newest first',
        description:
          'Keyset pages: pass `nextCursor` back as `cursor` with the same filters (a cursor is bound to them; other filters → 400). ' +
          'Offset pages: `page` (adds `page` and `totalPages`). `from` is inclusive, `to` exclusive.',
        querystring: schemas.ListQuery,
        response: { 200: schemas.EntryPage },
      },
    },
    async (request, reply) => {
      const userId = userOf(request)
      const list = entries.checkListRequest(deps, userId, request.query)
      return sendCached(reply, deps.cache, {
        userId,
        kind: 'entries:list',
        params: list.key,
        load: () => entries.listEntries(deps, userId, list),
      })
    },
  )

  app.get(
    '/entries/:id',
    {
      preParsing: app.authenticate,
      config: { openapi: { errors: [404], headers: { 200: ['ETag'] }, responses: { 200: 'The entry' } } },
      schema: {
        operationId: 'getEntry',
        tags,
        security,
        summary: 'One entry',
        params: schemas.EntryParams,
        headers: schemas.ReadHeaders,
        response: { 200: schemas.Entry, 304: Type.Null({ description: 'Not modified: the If-None-Match tag is current.' }) },
      },
    },
    async (request, reply) => {
      const entry = await entries.getEntry(deps, userOf(request), Number(request.params.id))
      const etag = etagOf(entry)
      reply.header('etag', etag)
      if (noneMatchFails(request.headers['if-none-match'], etag)) return reply.code(304).send(null)
      return entry
    },
  )

  app.patch(
    '/entries/:id',
    {
      preParsing: app.authenticate,
      config: { openapi: { errors: [404, 412], headers: { 200: ['ETag'] }, responses: { 200: 'The entry as changed' } } },
      schema: {
        operationId: 'updateEntry',
        tags,
        security,
        summary: 'Change some fields of an entry',
        description:
          'With `If-Match: "<etag>"`, only if the entry is still that version (else 412); ' +
          'with `If-None-Match`, only if it is not (a listed tag, or `*` for any version, is 412).',
        params: schemas.EntryParams,
        headers: schemas.WriteHeaders,
        body: schemas.PatchEntryBody,
        response: { 200: schemas.Entry },
      },
    },
    async (request, reply) => {
      const entry = await entries.patchEntry(
        deps,
        userOf(request),
        Number(request.params.id),
        request.body,
        request.headers['if-match'],
        request.headers['if-none-match'],
      )
      return reply.header('etag', etagOf(entry)).send(entry)
    },
  )

  app.delete(
    '/entries/:id',
    {
      preParsing: app.authenticate,
      config: { openapi: { errors: [404, 412] } },
      schema: {
        operationId: 'deleteEntry',
        tags,
        security,
        summary: 'Delete an entry',
        description:
          'With `If-Match: "<etag>"`, only if the entry is still that version (else 412); ' +
          'with `If-None-Match`, only if it is not (a listed tag, or `*` for any version, is 412).',
        params: schemas.EntryParams,
        headers: schemas.WriteHeaders,
        response: { 204: Type.Null({ description: 'Deleted' }) },
      },
    },
    async (request, reply) => {
      await entries.deleteEntry(
        deps,
        userOf(request),
        Number(request.params.id),
        request.headers['if-match'],
        request.headers['if-none-match'],
      )
      return reply.code(204).send(null)
    },
  )
}

export default entriesRoutes
