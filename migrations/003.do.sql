-- Entries: full-text search, case-insensitive category filter, and idempotent creation.

-- 'simple' (no stemming, no stop words) works for any language a journal is written in, and an
-- explicit configuration makes to_tsvector immutable, as a generated column requires.
ALTER TABLE entries
  ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED;

CREATE INDEX entries_search_idx ON entries USING gin (search);

-- `category=` filters compare lower(category); the trailing columns serve the newest-first order.
CREATE INDEX entries_user_category_idx ON entries (user_id, lower(category), occurred_at DESC, id DESC);

-- Idempotency-Key on POST /entries, per user, kept 24 hours. A key is claimed and its response
-- stored in the same transaction that creates the entry, so a key is never left half-used.
CREATE TABLE idempotency_keys (
  user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key             text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
  -- SHA-256 (hex) of the request: the same key with another body is refused (422).
  request_hash    text        NOT NULL CHECK (char_length(request_hash) = 64),
  -- NULL until the response is stored (only ever visible inside the claiming transaction).
  response_status smallint,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);
