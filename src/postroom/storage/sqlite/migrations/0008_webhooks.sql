-- Webhooks out and the events feed (docs/webhooks.md): the application's endpoints, the feed
-- of state changes, the outbox of webhook messages and their attempts.

-- types: '' takes every type, else ',email.bounced,email.delivered,' so a fan-out tests a type
-- with instr(types, ',' || type || ',') in the join itself. secrets: JSON text of
-- [{"value", "expires_at"}], the current one first. failing_since: the first failed attempt
-- since the last success (NULL after one), from which the endpoint is disabled in the end.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    url TEXT NOT NULL,
    types TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL,
    secrets TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    disabled_reason TEXT NOT NULL DEFAULT '',
    failing_since REAL
);
-- A tenant's endpoints oldest first, and the ones a new item fans out to.
CREATE INDEX IF NOT EXISTS webhook_endpoints_tenant ON webhook_endpoints (tenant, created_at);

-- The feed: seq is its cursor, AUTOINCREMENT so a seq is never given again once older items
-- are purged (a reader's cursor would skip it). An item from an event names it (event_seq,
-- unique, so resolving the same events twice adds nothing) and reads its email, recipient and
-- provider from it; the others (webhook.endpoint.disabled) carry data, a JSON object. The
-- reference is not enforced on this engine's connections: purge_events drops an event's
-- items itself.
CREATE TABLE IF NOT EXISTS feed_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    type TEXT NOT NULL,
    at REAL NOT NULL,
    created_at REAL NOT NULL,
    event_seq INTEGER UNIQUE REFERENCES provider_events (seq) ON DELETE CASCADE,
    data TEXT NOT NULL DEFAULT ''
);
-- A tenant's feed by cursor (the index ends with the rowid, seq), and retention.
CREATE INDEX IF NOT EXISTS feed_items_tenant ON feed_items (tenant, seq);
CREATE INDEX IF NOT EXISTS feed_items_created ON feed_items (created_at);

-- The outbox: one message per endpoint and item (feed_seq; 0 for a message not from the feed,
-- which carries its payload instead). state: pending (sent when next_at comes; a lease pushes
-- next_at forward, so a dispatcher that dies needs no sweeper), delivered or failed.
CREATE TABLE IF NOT EXISTS webhook_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    type TEXT NOT NULL,
    feed_seq INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_at REAL NOT NULL
);
-- Due pending messages in lease order (the index ends with id), and the counts by state.
CREATE INDEX IF NOT EXISTS webhook_messages_due ON webhook_messages (state, next_at);
-- An endpoint's messages by time: replay, and deleting the endpoint.
CREATE INDEX IF NOT EXISTS webhook_messages_endpoint
    ON webhook_messages (endpoint_id, created_at);
CREATE INDEX IF NOT EXISTS webhook_messages_created ON webhook_messages (created_at);

-- One row per POST to an endpoint; status 0 when no response came (error says why).
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL,
    webhook_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    at REAL NOT NULL,
    status INTEGER NOT NULL,
    latency REAL NOT NULL,
    response TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT ''
);
-- An endpoint's attempts newest first, by id as the page cursor; and retention.
CREATE INDEX IF NOT EXISTS webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX IF NOT EXISTS webhook_attempts_at ON webhook_attempts (at);
