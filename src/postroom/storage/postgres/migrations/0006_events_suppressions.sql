-- Provider events, the suppression list, and the tenant whose list an API key's emails share.

-- Every key made before tenants belongs to the one tenant there was. A constant default
-- changes only the catalog: no table rewrite.
ALTER TABLE postroom_api_keys ADD COLUMN tenant text NOT NULL DEFAULT 'default';

-- Events providers report (webhooks) and Postroom's own, append-only. No address is stored: a
-- recipient is its keyed hash. seq is the order of recording. No foreign key to the email: an
-- event may arrive before its email's settle, or name no email at all.
-- state: pending (to be matched to its email; handed out when not_before <= now, and a hand-out
-- pushes not_before forward, so a processor that dies needs no sweeper), matched or unmatched.
CREATE TABLE postroom_provider_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider text NOT NULL,
    dedup_key text COLLATE "C" NOT NULL,
    type text NOT NULL,
    at double precision NOT NULL,
    received_at double precision NOT NULL,
    recipient_key text COLLATE "C" NOT NULL DEFAULT '',
    provider_message_id text NOT NULL DEFAULT '',
    correlation_id text NOT NULL DEFAULT '',
    reject_reason text NOT NULL DEFAULT '',
    bounce text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    email_id text COLLATE "C" NOT NULL DEFAULT '',
    recipient_index integer NOT NULL DEFAULT -1,
    tenant text COLLATE "C" NOT NULL DEFAULT '',
    state text NOT NULL,
    not_before double precision NOT NULL
);
-- A provider sends an event again until it is acknowledged: the second copy is skipped here.
CREATE UNIQUE INDEX postroom_provider_events_dedup
    ON postroom_provider_events (provider, dedup_key);
-- Pending events in hand-out order, and the counts by state.
CREATE INDEX postroom_provider_events_pending ON postroom_provider_events (state, not_before);
CREATE INDEX postroom_provider_events_email ON postroom_provider_events (email_id);
-- A recipient's recent soft bounces, counted when one more arrives.
CREATE INDEX postroom_provider_events_recipient
    ON postroom_provider_events (tenant, recipient_key, at);

-- Signature tokens a provider must never reuse (Mailgun's): a replayed request is stored once.
CREATE TABLE postroom_replay_tokens (
    token text PRIMARY KEY,
    digest text NOT NULL,
    created_at double precision NOT NULL
);

-- The suppression list: one entry per tenant, address (its keyed hash) and scope ('*' or a
-- stream). Compared byte by byte, so pages come in the order of the other engines.
CREATE TABLE postroom_suppressions (
    tenant text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    scope text COLLATE "C" NOT NULL,
    address text NOT NULL,
    reason text NOT NULL,
    created_at double precision NOT NULL,
    expires_at double precision,
    provider text NOT NULL DEFAULT '',
    event text NOT NULL DEFAULT '',
    email_id text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, key, scope)
);
