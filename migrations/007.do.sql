-- Entry counts (migration 005): exact after a TRUNCATE too, recounted once, and locked in one order.

-- 1. TRUNCATE fires no row or DELETE trigger, so `TRUNCATE entries CASCADE` (entry_repairs refers
-- to entries) used to leave every user's old total behind. A user without a row counts 0.
CREATE FUNCTION entry_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM entry_counts;
  RETURN NULL;
END
$$;

CREATE TRIGGER entries_count_truncate AFTER TRUNCATE ON entries
  FOR EACH STATEMENT EXECUTE FUNCTION entry_counts_clear();

-- 2. A statement deleting entries of several users locks their count rows in user order, as
-- entry_counts_add does: two such statements, or one and a multi-user insert, cannot deadlock.
-- (The API, an import and an account deletion each touch one user's row.)
CREATE OR REPLACE FUNCTION entry_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM entry_counts WHERE user_id IN (SELECT user_id FROM removed) ORDER BY user_id FOR NO KEY UPDATE;
  UPDATE entry_counts c
     SET total = c.total - removed_per_user.n
    FROM (SELECT user_id, count(*) AS n FROM removed GROUP BY user_id) removed_per_user
   WHERE c.user_id = removed_per_user.user_id;
  RETURN NULL;
END
$$;

-- 3. Counts from the rows as they are now, in case a TRUNCATE left old ones. Writers of entries
-- wait for this one scan (readers do not): no insert or delete can fall between count and commit.
LOCK TABLE entries IN SHARE ROW EXCLUSIVE MODE;

DELETE FROM entry_counts;

INSERT INTO entry_counts (user_id, total)
SELECT user_id, count(*) FROM entries GROUP BY user_id;
