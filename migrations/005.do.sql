-- Entries: every stored instant within the range the API accepts, and a per-user entry count kept
-- in step with every write.

-- 1. Instants within 1900-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z (src/entries/rules.ts).
-- Outside it, a row could not be read back: JavaScript reads years below 50 as 20xx and cannot
-- write years past 9999 as RFC 3339, so one such row turned every list of its owner into a 500.
-- Rows written before the rule existed are clamped to the nearest end of the range, and each
-- change is recorded here with the value it replaced (which the undo migration puts back).
CREATE TABLE entry_repairs (
  user_id     bigint      NOT NULL,
  entry_id    bigint      NOT NULL,
  field       text        NOT NULL CHECK (field IN ('occurredAt', 'createdAt', 'updatedAt')),
  -- UTC with microseconds and era, e.g. `0001-12-31T23:00:00.000000Z BC`; readable by ::timestamptz.
  old_value   text        NOT NULL,
  new_value   timestamptz NOT NULL,
  repaired_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, entry_id, field),
  FOREIGN KEY (user_id, entry_id) REFERENCES entries (user_id, id) ON DELETE CASCADE
);

CREATE FUNCTION pg_temp.clamped(value timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT least(greatest(value, timestamptz '1900-01-01 00:00:00+00'), timestamptz '9999-12-31 23:59:59.999+00')
$$;

CREATE FUNCTION pg_temp.exact(value timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN isfinite(value) THEN to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z" BC') ELSE value::text END
$$;

INSERT INTO entry_repairs (user_id, entry_id, field, old_value, new_value)
SELECT user_id, id, 'occurredAt', pg_temp.exact(occurred_at), pg_temp.clamped(occurred_at)
  FROM entries WHERE occurred_at IS DISTINCT FROM pg_temp.clamped(occurred_at)
UNION ALL
SELECT user_id, id, 'createdAt', pg_temp.exact(created_at), pg_temp.clamped(created_at)
  FROM entries WHERE created_at IS DISTINCT FROM pg_temp.clamped(created_at)
UNION ALL
SELECT user_id, id, 'updatedAt', pg_temp.exact(updated_at), pg_temp.clamped(updated_at)
  FROM entries WHERE updated_at IS DISTINCT FROM pg_temp.clamped(updated_at);

-- The version moves on so that ETags and cached copies of a repaired entry are not reused.
UPDATE entries
   SET occurred_at = pg_temp.clamped(occurred_at),
       created_at  = pg_temp.clamped(created_at),
       updated_at  = pg_temp.clamped(updated_at),
       version     = version + 1
 WHERE (user_id, id) IN (SELECT user_id, entry_id FROM entry_repairs);

ALTER TABLE entries
  ADD CONSTRAINT entries_occurred_at_range
    CHECK (occurred_at BETWEEN '1900-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999+00'),
  ADD CONSTRAINT entries_created_at_range
    CHECK (created_at BETWEEN '1900-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999+00'),
  ADD CONSTRAINT entries_updated_at_range
    CHECK (updated_at BETWEEN '1900-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999+00');

DROP FUNCTION pg_temp.clamped(timestamptz);
DROP FUNCTION pg_temp.exact(timestamptz);

-- 2. The unfiltered total of GET /entries, without counting: one row per user with entries,
-- changed by statement-level triggers in the same transaction as the insert or delete that
-- changes the count, whoever runs it (the API, an import, a bulk delete, a cascade from users).
-- Concurrent writers of ONE user queue on that user's row until commit; other users never meet.
CREATE TABLE entry_counts (
  user_id bigint NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  total   bigint NOT NULL CHECK (total >= 0)
);

INSERT INTO entry_counts (user_id, total)
SELECT user_id, count(*) FROM entries GROUP BY user_id;

CREATE FUNCTION entry_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Users in a fixed order: two multi-user statements cannot deadlock on each other's rows.
  INSERT INTO entry_counts (user_id, total)
  SELECT user_id, count(*) FROM added GROUP BY user_id ORDER BY user_id
  ON CONFLICT (user_id) DO UPDATE SET total = entry_counts.total + excluded.total;
  RETURN NULL;
END
$$;

CREATE FUNCTION entry_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE entry_counts c
     SET total = c.total - removed_per_user.n
    FROM (SELECT user_id, count(*) AS n FROM removed GROUP BY user_id) removed_per_user
   WHERE c.user_id = removed_per_user.user_id;
  RETURN NULL;
END
$$;

CREATE TRIGGER entries_count_insert AFTER INSERT ON entries
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION entry_counts_add();

CREATE TRIGGER entries_count_delete AFTER DELETE ON entries
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION entry_counts_remove();

-- An entry never changes owner (no statement sets user_id); this keeps the counts true if one tried.
CREATE FUNCTION entries_keep_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'entries.user_id cannot change' USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER entries_owner_fixed BEFORE UPDATE OF user_id ON entries
  FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id) EXECUTE FUNCTION entries_keep_owner();
