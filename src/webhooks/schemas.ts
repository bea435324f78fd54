import { Type, type Static } from 'typebox'
import { ENTRY_EVENTS } from './events.js'

const EventName = Type.Union(
  ENTRY_EVENTS.map((name) => Type.Literal(name)),
  { description: 'An entry event.' },
)
const Events = Type.Array(EventName, { minItems: 1, maxItems: ENTRY_EVENTS.length, uniqueItems: true })
const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'https URL whose host resolves to public addresses only (checked now and at every delivery).',
})
// NUL and lone surrogates are refused by the service with the entries' rule (a 400 saying which).
const Description = Type.String({ maxLength: 500, description: 'At most 500 characters; no NUL or lone surrogates.' })
const Time = Type.String({ format: 'date-time' })
const NullableTime = Type.Union([Time, Type.Null()])

export const CreateWebhookBody = Type.Object(
  { url: Url, events: Type.Optional({ ...Events, description: 'Default: every entry event.' }), description: Type.Optional(Description) },
  { additionalProperties: false },
)
export type CreateWebhookBody = Static<typeof CreateWebhookBody>

export const PatchWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    description: Type.Optional(Description),
    enabled: Type.Optional(Type.Boolean({ description: 'true also clears a disabled reason and the circuit breaker.' })),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type PatchWebhookBody = Static<typeof PatchWebhookBody>

export const Webhook = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  description: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabledReason: Type.Union([Type.String(), Type.Null()], {
    description: 'Why moodlog turned the endpoint off (410 Gone, failing for 5 days); null when enabled or turned off by its owner.',
  }),
  failingSince: { ...NullableTime, description: 'Set while every attempt fails.' },
  pausedUntil: {
    ...NullableTime,
    description: 'No attempts before this time: the circuit breaker (after consecutive failures) or a Retry-After of the receiver.',
  },
  createdAt: Time,
  updatedAt: Time,
})
export type WebhookJson = Static<typeof Webhook>

export const CreatedWebhook = Type.Object({
  ...Webhook.properties,
  secret: Type.String({ description: 'Signing secret (`whsec_` + base64). Shown only now: store it.' }),
})

export const WebhookList = Type.Object({ items: Type.Array(Webhook) })

export const RotatedSecret = Type.Object({
  secret: Type.String({ description: 'The new signing secret. Shown only now.' }),
  previousSecretExpiresAt: Type.String({ format: 'date-time', description: 'Until then the old secret signs beside the new one.' }),
})

export const WebhookParams = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,14}$', description: 'Webhook id' }) })
export const DeliveryParams = Type.Object({
  id: Type.String({ pattern: '^[1-9][0-9]{0,14}$', description: 'Webhook id' }),
  deliveryId: Type.String({ pattern: '^[1-9][0-9]{0,14}$', description: 'Delivery id' }),
})

export const DELIVERIES_PAGE = 20

export const DeliveriesQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DELIVERIES_PAGE })),
    cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,14}$', description: 'The `nextCursor` of the previous page.' })),
  },
  { additionalProperties: false },
)
export type DeliveriesQuery = Static<typeof DeliveriesQuery>

const Attempt = Type.Object({
  at: Time,
  durationMs: Type.Integer(),
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  response: Type.Union([Type.String(), Type.Null()], { description: 'The first 1 KB of the response body.' }),
})

export const Delivery = Type.Object({
  id: Type.Integer(),
  eventId: Type.String({ description: 'The `webhook-id` header, the same on every attempt.' }),
  eventType: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  nextAttemptAt: { ...NullableTime, description: 'When pending: when the next attempt is due.' },
  attempts: Type.Array(Attempt, { description: 'Oldest first.' }),
  createdAt: Time,
  finishedAt: NullableTime,
})
export type DeliveryJson = Static<typeof Delivery>

export const DeliveryPage = Type.Object({ items: Type.Array(Delivery), nextCursor: Type.Union([Type.String(), Type.Null()]) })

export const TestQueued = Type.Object({ deliveryId: Type.Integer(), eventId: Type.String() })
