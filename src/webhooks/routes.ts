import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { currentUser } from '../auth/plugin.js'
import * as schemas from './schemas.js'
import * as webhooks from './service.js'

const security = [{ bearerAuth: [] }]
const tags = ['webhooks']

const webhooksRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps: webhooks.WebhooksDeps = { db: app.db, policy: app.webhooks.policy, maxPerUser: app.config.webhooksMaxPerUser }
  const userOf = (request: Parameters<typeof currentUser>[0]) => currentUser(request).userId
  const common = { preParsing: app.authenticate }

  app.post(
    '/webhooks',
    {
      ...common,
      config: { openapi: { errors: [409], responses: { 201: 'The new endpoint, with its secret (shown only here)' } } },
      schema: {
        tags,
        security,
        operationId: 'createWebhook',
        summary: 'Register a webhook endpoint',
        description:
          'Deliveries are signed per Standard Webhooks v1 with the returned secret, which is shown only here. ' +
          `At most ${app.config.webhooksMaxPerUser} per account (409 beyond).`,
        body: schemas.CreateWebhookBody,
        response: { 201: schemas.CreatedWebhook },
      },
    },
    async (request, reply) => {
      const created = await webhooks.createWebhook(deps, userOf(request), request.body)
      // The secret is in this answer: no cache may keep it.
      return reply.code(201).header('location', `/webhooks/${created.id}`).header('cache-control', 'no-store').send(created)
    },
  )

  app.get(
    '/webhooks',
    {
      ...common,
      config: { openapi: { responses: { 200: 'Your endpoints' } } },
      schema: { tags, security, operationId: 'listWebhooks', summary: 'Your webhook endpoints', response: { 200: schemas.WebhookList } },
    },
    async (request) => ({ items: await webhooks.listWebhooks(deps, userOf(request)) }),
  )

  app.get(
    '/webhooks/:id',
    {
      ...common,
      config: { openapi: { errors: [404], responses: { 200: 'The endpoint' } } },
      schema: {
        tags,
        security,
        operationId: 'getWebhook',
        summary: 'One webhook endpoint',
        params: schemas.WebhookParams,
        response: { 200: schemas.Webhook },
      },
    },
    async (request) => webhooks.getWebhook(deps, userOf(request), Number(request.params.id)),
  )

  app.patch(
    '/webhooks/:id',
    {
      ...common,
      config: { openapi: { errors: [404], responses: { 200: 'The endpoint as changed' } } },
      schema: {
        tags,
        security,
        operationId: 'updateWebhook',
        summary: 'Change a webhook endpoint',
        params: schemas.WebhookParams,
        body: schemas.PatchWebhookBody,
        response: { 200: schemas.Webhook },
      },
    },
    async (request) => webhooks.patchWebhook(deps, userOf(request), Number(request.params.id), request.body),
  )

  app.delete(
    '/webhooks/:id',
    {
      ...common,
      config: { openapi: { errors: [404] } },
      schema: {
        tags,
        security,
        operationId: 'deleteWebhook',
        summary: 'Delete a webhook endpoint and its deliveries',
        params: schemas.WebhookParams,
        response: { 204: Type.Null({ description: 'Deleted' }) },
      },
    },
    async (request, reply) => {
      await webhooks.deleteWebhook(deps, userOf(request), Number(request.params.id))
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/webhooks/:id/secret',
    {
      ...common,
      config: { openapi: { errors: [404], responses: { 200: 'The new secret; the old one keeps signing for 24 h' } } },
      schema: {
        tags,
        security,
        operationId: 'rotateWebhookSecret',
        summary: 'Rotate the signing secret',
        description: 'For 24 hours the old secret keeps signing beside the new one (two signatures in `webhook-signature`).',
        params: schemas.WebhookParams,
        response: { 200: schemas.RotatedSecret },
      },
    },
    async (request, reply) => {
      const rotated = await webhooks.rotateSecret(deps, userOf(request), Number(request.params.id))
      return reply.header('cache-control', 'no-store').send(rotated)
    },
  )

  app.post(
    '/webhooks/:id/test',
    {
      ...common,
      // 409: the endpoint is disabled.
      config: { openapi: { errors: [404, 409], responses: { 202: 'The test event is queued for delivery' } } },
      schema: {
        tags,
        security,
        operationId: 'testWebhook',
        summary: 'Queue a webhook.test event for this endpoint',
        params: schemas.WebhookParams,
        response: { 202: schemas.TestQueued },
      },
    },
    async (request, reply) => {
      const queued = await webhooks.sendTestEvent(deps, userOf(request), Number(request.params.id))
      app.webhooks.nudge()
      return reply.code(202).send(queued)
    },
  )

  app.get(
    '/webhooks/:id/deliveries',
    {
      ...common,
      config: { openapi: { errors: [404], responses: { 200: 'A page of deliveries, newest first' } } },
      schema: {
        tags,
        security,
        operationId: 'listWebhookDeliveries',
        summary: 'Deliveries of this endpoint, newest first',
        description: 'Pass `nextCursor` back as `cursor` for the next page. Finished deliveries are kept 30 days.',
        params: schemas.WebhookParams,
        querystring: schemas.DeliveriesQuery,
        response: { 200: schemas.DeliveryPage },
      },
    },
    async (request) => webhooks.listDeliveries(deps, userOf(request), Number(request.params.id), request.query),
  )

  app.post(
    '/webhooks/:id/deliveries/:deliveryId/retry',
    {
      ...common,
      // 409: an attempt of this delivery is in flight, or the endpoint is disabled.
      config: { openapi: { errors: [404, 409], responses: { 202: 'The delivery is queued again' } } },
      schema: {
        tags,
        security,
        operationId: 'retryWebhookDelivery',
        summary: 'Send a delivery again now, with a fresh retry schedule',
        params: schemas.DeliveryParams,
        response: { 202: schemas.Delivery },
      },
    },
    async (request, reply) => {
      const queued = await webhooks.retryDelivery(deps, userOf(request), Number(request.params.id), Number(request.params.deliveryId))
      app.webhooks.nudge()
      return reply.code(202).send(queued)
    },
  )
}

export default webhooksRoutes
