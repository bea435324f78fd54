DROP TRIGGER entries_count_truncate ON entries;
DROP FUNCTION entry_counts_clear();

-- The function as migration 005 wrote it; the counts stay as they are (exact either way).
CREATE OR REPLACE FUNCTION entry_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE entry_counts c
     SET total = c.total - removed_per_user.n
    FROM (SELECT user_id, count(*) AS n FROM removed GROUP BY user_id) removed_per_user
   WHERE c.user_id = removed_per_user.user_id;
  RETURN NULL;
END
$$;
