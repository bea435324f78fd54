-- Users and their journal entries.
-- Every user-owned table carries user_id in its primary key and every query filters by it:
-- one request touches one user's rows (and one shard, should the schema move to Citus).

CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email         text        NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
  password_hash text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Emails are unique regardless of case.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE entries (
  user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  id          bigint      GENERATED ALWAYS AS IDENTITY,
  text        text        NOT NULL CHECK (char_length(text) BETWEEN 1 AND 10000),
  mood        smallint    NOT NULL CHECK (mood BETWEEN 1 AND 10),
  category    text        NOT NULL CHECK (char_length(category) BETWEEN 1 AND 50),
  occurred_at timestamptz NOT NULL DEFAULT now(),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  version     integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
  PRIMARY KEY (user_id, id)
);

-- Newest-first pages: (user_id, occurred_at DESC, id DESC) serves both keyset and offset pages.
CREATE INDEX entries_user_newest_idx ON entries (user_id, occurred_at DESC, id DESC);
