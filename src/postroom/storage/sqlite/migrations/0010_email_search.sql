-- Emails you can find (GET /api/v1/email, docs/api.md): each email's tenant and tags on its
-- row, and its recipients' keyed address hashes (services/addresses.py, the same HMAC the
-- suppression list uses; never an address) in email_recipients, all written with the email.
-- Emails stored before this have tenant 'default', no tags and no recipient rows: `to=` and
-- `tag=` find only emails accepted after the upgrade.
ALTER TABLE emails ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
-- The email's tags as a JSON array of strings.
ALTER TABLE emails ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
-- A tenant's emails newest first, a page at a time.
CREATE INDEX IF NOT EXISTS emails_tenant ON emails (tenant, created_at, id);
-- One row per distinct recipient address of an email. The primary key lets retention drop
-- an email's rows with its content; the index finds an address's emails newest first.
CREATE TABLE IF NOT EXISTS email_recipients (
    email_id TEXT NOT NULL,
    key TEXT NOT NULL,
    tenant TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (email_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS email_recipients_key
    ON email_recipients (tenant, key, created_at, email_id);
