-- Login sessions (one per login: the "family" of its rotating refresh tokens) and their
-- refresh tokens, stored only as SHA-256 hashes. The access token's `sid` claim is the session id.

CREATE TABLE sessions (
  user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  id         uuid        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Absolute expiry: refreshing never extends a session past REFRESH_TOKEN_TTL_SECONDS from login.
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  PRIMARY KEY (user_id, id)
);

CREATE TABLE refresh_tokens (
  user_id    bigint      NOT NULL,
  id         bigint      GENERATED ALWAYS AS IDENTITY,
  session_id uuid        NOT NULL,
  token_hash text        NOT NULL CHECK (char_length(token_hash) = 64),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Set when the token is exchanged; presenting it again revokes the whole session.
  spent_at   timestamptz,
  PRIMARY KEY (user_id, id),
  FOREIGN KEY (user_id, session_id) REFERENCES sessions (user_id, id) ON DELETE CASCADE
);

CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (user_id, session_id);
