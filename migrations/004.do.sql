-- One canonical form of an email address for sign-in lookups, the sign-in throttle and uniqueness:
-- trimmed (the app stores addresses trimmed) with A-Z folded to a-z, every other character as it is.
-- The app computes the same form (canonicalEmail in src/auth/email.ts). lower() is no longer used:
-- it depends on the database's locale and disagrees with JavaScript on some characters (U+0130).
-- Generated, so existing rows get it here and no writer can store a row without it.
-- Existing rows cannot collide: two addresses equal after folding only A-Z were already equal
-- under lower(), which the index dropped below kept unique (in any locale but a Turkish one).
ALTER TABLE users
  ADD COLUMN email_canonical text GENERATED ALWAYS AS (translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) STORED;

CREATE UNIQUE INDEX users_email_canonical_key ON users (email_canonical);

DROP INDEX users_email_lower_key;
