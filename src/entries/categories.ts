import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'
import { currentUser } from '../auth/plugin.js'
import { sendCached } from '../cache/send-cached.js'
import type { Database } from '../db/index.js'
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

/** The user's categories, most recently used first (at most MAX_CATEGORIES). */
export async function categoriesOf(db: Database, userId: number): Promise<Static<typeof CategoryList>> {
  const rows = await listCategories(db.scans, userId, MAX_CATEGORIES)
  return { items: rows.map((row) => ({ name: row.name, count: row.count, lastUsedAt: row.lastUsedAt.toISOString() })) }
}

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
      // Cached per user until their next write, like list pages and statistics.
      return sendCached(reply, app.cache, { userId, kind: 'categories:body', params: null, load: () => categoriesOf(app.db, userId) })
    },
  )
}

export default categoriesRoutes
