import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { currentUser } from '../auth/plugin.js'
import { routeSerializer, sendSerialized } from '../http/serialized.js'
import { listCategories } from './queries.js'

/** A bound on the answer; suggestions need far fewer. */
export const MAX_CATEGORIES = 500

const Category = Type.Object({
  name: Type.String({ description: 'As written in the newest entry of the category (categories compare case-insensitively).' }),
  count: Type.Integer({ minimum: 1, description: 'Entries in the category.' }),
  lastUsedAt: Type.String({ format: 'date-time', description: 'The newest occurredAt among them.' }),
})

const CategoryList = Type.Object({
  items: Type.Array(Category, { maxItems: MAX_CATEGORIES, description: `Most recently used first; at most ${MAX_CATEGORIES}.` }),
})

/** GET /categories: the signed-in user's own categories, e.g. for the composer's suggestions. */
const categoriesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/categories',
    {
      preParsing: app.authenticate,
      config: { openapi: { responses: { 200: 'Your categories with their entry count and last use' } } },
      schema: {
        operationId: 'listCategories',
        tags: ['entries'],
        summary: 'The categories of your entries, most recently used first',
        security: [{ bearerAuth: [] }],
        response: { 200: CategoryList },
      },
    },
    async (request, reply) => {
      const { userId } = currentUser(request)
      const serialize = routeSerializer(reply)
      // Cached per user until their next write, like list pages and statistics.
      const body = await app.cache.rememberText(userId, 'categories:body', null, async () => {
        const rows = await listCategories(app.db.scans, userId, MAX_CATEGORIES)
        return serialize({ items: rows.map((row) => ({ name: row.name, count: row.count, lastUsedAt: row.lastUsedAt.toISOString() })) })
      })
      return sendSerialized(reply, body)
    },
  )
}

export default categoriesRoutes
