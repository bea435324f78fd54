-- Webhooks: per-user endpoints and the delivery queue (docs/WEBHOOKS.md).
-- A delivery row is written in the same transaction as the entry change it reports, one row per
-- subscribed endpoint; workers in every instance lease due rows with FOR UPDATE SKIP LOCKED.

CREATE TABLE webhook_endpoints (
  user_id                    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  id                         bigint      GENERATED ALWAYS AS IDENTITY,
  url                        text        NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
  description                text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
  events                     text[]      NOT NULL,
  enabled                    boolean     NOT NULL DEFAULT true,
  -- Why the endpoint was turned off by moodlog itself (410 Gone, failing for days); NULL otherwise.
  disabled_reason            text,
  -- `whsec_` + base64 of 32 random bytes; the previous one keeps signing until it expires (rotation).
  secret                     text        NOT NULL,
  previous_secret            text,
  previous_secret_expires_at timestamptz,
  -- Circuit breaker: consecutive failed attempts, since when the endpoint fails, paused until when.
  consecutive_failures       integer     NOT NULL DEFAULT 0,
  failing_since              timestamptz,
  paused_until               timestamptz,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, id)
);

CREATE TABLE webhook_deliveries (
  user_id         bigint      NOT NULL,
  id              bigint      GENERATED ALWAYS AS IDENTITY,
  endpoint_id     bigint      NOT NULL,
  -- The `webhook-id` header: the same on every attempt, so receivers can drop duplicates.
  event_id        uuid        NOT NULL,
  event_type      text        NOT NULL,
  -- The exact body sent (and signed) on every attempt.
  body            text        NOT NULL,
  status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempt_count   integer     NOT NULL DEFAULT 0,
  -- Pending: when the next attempt is due. While leased: when the lease expires and the row is due again.
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- Set while a worker holds the lease; an outcome is only recorded by the holder of the current lease.
  lease_token     uuid,
  -- One object per attempt: at, durationMs, statusCode, error, response (first 1 KB).
  attempts        jsonb       NOT NULL DEFAULT '[]',
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  PRIMARY KEY (user_id, id),
  FOREIGN KEY (user_id, endpoint_id) REFERENCES webhook_endpoints (user_id, id) ON DELETE CASCADE
);

-- The worker's lease: due pending rows, found per endpoint.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_due_idx ON webhook_deliveries (user_id, endpoint_id, next_attempt_at, id) WHERE status = 'pending';
-- An endpoint's deliveries, newest first (GET /webhooks/{id}/deliveries).
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (user_id, endpoint_id, id DESC);
