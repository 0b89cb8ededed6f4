-- email_recipients keyed by 16 bytes instead of 64 hex characters: the first 128 bits of the
-- same HMAC-SHA256 (services/addresses.py), enough that two addresses never share a key, and
-- a quarter of the size in both B-trees, which every recipient of every email accepted writes.
-- SQLite before 3.41 has no unhex(): postroom_unhex is registered by migrate.py for this.
-- A table's column type cannot change in place, so the table is built again under its name.
CREATE TABLE email_recipients_compact (
    email_id TEXT NOT NULL,
    key BLOB NOT NULL,
    tenant TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (email_id, key)
) WITHOUT ROWID;
INSERT OR IGNORE INTO email_recipients_compact (email_id, key, tenant, created_at)
    SELECT email_id, postroom_unhex(substr(key, 1, 32)), tenant, created_at
    FROM email_recipients;
DROP TABLE email_recipients;
ALTER TABLE email_recipients_compact RENAME TO email_recipients;
CREATE INDEX email_recipients_key ON email_recipients (tenant, key, created_at, email_id);
