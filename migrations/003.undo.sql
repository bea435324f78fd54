DROP TABLE idempotency_keys;
DROP INDEX entries_user_category_idx;
DROP INDEX entries_search_idx;
ALTER TABLE entries DROP COLUMN search;
