DROP TRIGGER entries_owner_fixed ON entries;
DROP FUNCTION entries_keep_owner();
DROP TRIGGER entries_count_delete ON entries;
DROP TRIGGER entries_count_insert ON entries;
DROP FUNCTION entry_counts_remove();
DROP FUNCTION entry_counts_add();
DROP TABLE entry_counts;

ALTER TABLE entries
  DROP CONSTRAINT entries_occurred_at_range,
  DROP CONSTRAINT entries_created_at_range,
  DROP CONSTRAINT entries_updated_at_range;

-- Puts back the instants the do migration clamped (those of entries that still exist).
UPDATE entries e
   SET occurred_at = coalesce((SELECT r.old_value::timestamptz FROM entry_repairs r
                                WHERE r.user_id = e.user_id AND r.entry_id = e.id AND r.field = 'occurredAt'), e.occurred_at),
       created_at  = coalesce((SELECT r.old_value::timestamptz FROM entry_repairs r
                                WHERE r.user_id = e.user_id AND r.entry_id = e.id AND r.field = 'createdAt'), e.created_at),
       updated_at  = coalesce((SELECT r.old_value::timestamptz FROM entry_repairs r
                                WHERE r.user_id = e.user_id AND r.entry_id = e.id AND r.field = 'updatedAt'), e.updated_at)
 WHERE (e.user_id, e.id) IN (SELECT user_id, entry_id FROM entry_repairs);

DROP TABLE entry_repairs;
