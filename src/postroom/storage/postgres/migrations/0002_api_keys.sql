-- API keys, stored only as hashes, and the key that submitted each email (only that key may
-- see or cancel it; '' when the service runs without auth). Adding a column with a constant
-- default changes only the catalog (PostgreSQL 11+): no table rewrite, no long lock.
ALTER TABLE postroom_emails ADD COLUMN owner text NOT NULL DEFAULT '';

CREATE TABLE postroom_api_keys (
    id text PRIMARY KEY,
    name text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    prefix text NOT NULL,
    created_at double precision NOT NULL,
    last_used_at double precision,
    revoked_at double precision
);

-- A key's emails since a time: its daily quota is counted from here when a process starts.
CREATE INDEX postroom_emails_owner ON postroom_emails (owner, created_at);
