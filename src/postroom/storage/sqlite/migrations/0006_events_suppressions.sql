-- Provider events, the suppression list, and the tenant whose list an API key's emails share.

-- Every key made before tenants belongs to the one tenant there was.
ALTER TABLE api_keys ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';

-- Events providers report (webhooks) and Postroom's own, append-only. No address is stored: a
-- recipient is its keyed hash. seq is the order of recording; AUTOINCREMENT so a seq a
-- processor still holds is never given to a later event once older rows are purged.
-- state: pending (to be matched to its email; handed out when not_before <= now, and a hand-out
-- pushes not_before forward, so a processor that dies needs no sweeper), matched or unmatched.
CREATE TABLE IF NOT EXISTS provider_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    type TEXT NOT NULL,
    at REAL NOT NULL,
    received_at REAL NOT NULL,
    recipient_key TEXT NOT NULL DEFAULT '',
    provider_message_id TEXT NOT NULL DEFAULT '',
    correlation_id TEXT NOT NULL DEFAULT '',
    reject_reason TEXT NOT NULL DEFAULT '',
    bounce TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    email_id TEXT NOT NULL DEFAULT '',
    recipient_index INTEGER NOT NULL DEFAULT -1,
    tenant TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    not_before REAL NOT NULL
);
-- A provider sends an event again until it is acknowledged: the second copy is skipped here.
CREATE UNIQUE INDEX IF NOT EXISTS provider_events_dedup ON provider_events (provider, dedup_key);
-- Pending events in hand-out order (SQLite ends every index with the rowid, here seq), and
-- the counts by state.
CREATE INDEX IF NOT EXISTS provider_events_pending ON provider_events (state, not_before);
CREATE INDEX IF NOT EXISTS provider_events_email ON provider_events (email_id);
-- A recipient's recent soft bounces, counted when one more arrives.
CREATE INDEX IF NOT EXISTS provider_events_recipient
    ON provider_events (tenant, recipient_key, at);

-- Signature tokens a provider must never reuse (Mailgun's): a replayed request is stored once.
CREATE TABLE IF NOT EXISTS replay_tokens (
    token TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    created_at REAL NOT NULL
);

-- The suppression list: one entry per tenant, address (its keyed hash) and scope ('*' or a
-- stream). WITHOUT ROWID: the lookup on every intake and send reads one b-tree, not two.
CREATE TABLE IF NOT EXISTS suppressions (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    scope TEXT NOT NULL,
    address TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    provider TEXT NOT NULL DEFAULT '',
    event TEXT NOT NULL DEFAULT '',
    email_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, key, scope)
) WITHOUT ROWID;
