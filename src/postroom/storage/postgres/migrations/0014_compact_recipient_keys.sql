-- postroom_email_recipients keyed by 16 bytes instead of 64 hex characters: the first 128 bits
-- of the same HMAC-SHA256 (services/addresses.py), enough that two addresses never share a
-- key, and a quarter of the size in the primary key and the index every recipient writes.
-- Rewrites the table and rebuilds both indexes in the migration's transaction: on a large
-- table run `postroom migrate` at a quiet time.
ALTER TABLE postroom_email_recipients
    ALTER COLUMN key TYPE bytea USING decode(substr(key, 1, 32), 'hex');
