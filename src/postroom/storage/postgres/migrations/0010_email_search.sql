-- Emails you can find (GET /api/v1/email, docs/api.md): each email's tenant and tags on its
-- row, and its recipients' keyed address hashes (services/addresses.py, the same HMAC the
-- suppression list uses; never an address) in postroom_email_recipients, written by the
-- statement that stores the email. Emails stored before this have tenant 'default', no tags
-- and no recipient rows: `to=` and `tag=` find only emails accepted after the upgrade.
-- Constant defaults change only the catalog: no table rewrite.
ALTER TABLE postroom_emails ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE postroom_emails ADD COLUMN tags jsonb NOT NULL DEFAULT '[]';
-- A tenant's emails newest first, a page at a time. Built on the whole table in the
-- migration's transaction: on a large table run `postroom migrate` at a quiet time.
CREATE INDEX postroom_emails_tenant ON postroom_emails (tenant, created_at, id);
-- One row per distinct recipient address of an email. No foreign key (its check would cost
-- every intake a lookup per recipient): withdraw and retention delete the rows themselves,
-- by the primary key.
CREATE TABLE postroom_email_recipients (
    email_id text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    tenant text NOT NULL,
    created_at double precision NOT NULL,
    PRIMARY KEY (email_id, key)
);
CREATE INDEX postroom_email_recipients_key
    ON postroom_email_recipients (tenant, key, created_at, email_id);
