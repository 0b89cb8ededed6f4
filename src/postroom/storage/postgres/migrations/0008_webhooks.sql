-- Webhooks out and the events feed (docs/webhooks.md): the application's endpoints, the feed
-- of state changes, the outbox of webhook messages and their attempts.

-- types: '' takes every type, else ',email.bounced,email.delivered,' so a fan-out tests a type
-- with strpos(types, ',' || type || ',') in the join itself. secrets: JSON text of
-- [{"value", "expires_at"}], the current one first. failing_since: the first failed attempt
-- since the last success (NULL after one), from which the endpoint is disabled in the end.
CREATE TABLE postroom_webhook_endpoints (
    id text COLLATE "C" PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    url text NOT NULL,
    types text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    enabled boolean NOT NULL,
    secrets text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    disabled_reason text NOT NULL DEFAULT '',
    failing_since double precision
);
-- A tenant's endpoints oldest first, and the ones a new item fans out to.
CREATE INDEX postroom_webhook_endpoints_tenant
    ON postroom_webhook_endpoints (tenant, created_at, id);

-- The feed: seq is its cursor. A sequence hands out values in the order transactions ask, not
-- the order they commit, so every transaction that adds items holds an advisory lock first
-- (storage/postgres/feed.py): items then commit in seq order, and a reader paging by seq never
-- finds a lower one appearing behind its cursor. An item from an event names it (event_seq,
-- unique, so resolving the same events twice adds nothing), reads its email, recipient and
-- provider from it, and goes when retention drops the event; the others
-- (webhook.endpoint.disabled) carry data, a JSON object.
CREATE TABLE postroom_feed_items (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    type text NOT NULL,
    at double precision NOT NULL,
    created_at double precision NOT NULL,
    event_seq bigint UNIQUE REFERENCES postroom_provider_events (seq) ON DELETE CASCADE,
    data text NOT NULL DEFAULT ''
);
-- A tenant's feed by cursor, and retention.
CREATE INDEX postroom_feed_items_tenant ON postroom_feed_items (tenant, seq);
CREATE INDEX postroom_feed_items_created ON postroom_feed_items (created_at);

-- The outbox: one message per endpoint and item (feed_seq; 0 for a message not from the feed,
-- which carries its payload instead). state: pending (sent when next_at comes; a lease pushes
-- next_at forward, so a dispatcher that dies needs no sweeper), delivered or failed. No
-- foreign keys: deleting an endpoint deletes its messages and attempts in one statement.
CREATE TABLE postroom_webhook_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id text NOT NULL,
    endpoint_id text COLLATE "C" NOT NULL,
    tenant text COLLATE "C" NOT NULL,
    type text NOT NULL,
    feed_seq bigint NOT NULL DEFAULT 0,
    payload text NOT NULL DEFAULT '',
    state text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_at double precision NOT NULL,
    next_at double precision NOT NULL
);
-- Due pending messages in lease order (partial: the delivered and failed, nearly all rows,
-- stay out of it).
CREATE INDEX postroom_webhook_messages_due
    ON postroom_webhook_messages (next_at, id) WHERE state = 'pending';
-- An endpoint's messages by time: replay, and deleting the endpoint.
CREATE INDEX postroom_webhook_messages_endpoint
    ON postroom_webhook_messages (endpoint_id, created_at);
CREATE INDEX postroom_webhook_messages_created ON postroom_webhook_messages (created_at);

-- One row per POST to an endpoint; status 0 when no response came (error says why).
CREATE TABLE postroom_webhook_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id bigint NOT NULL,
    webhook_id text NOT NULL,
    endpoint_id text COLLATE "C" NOT NULL,
    at double precision NOT NULL,
    status integer NOT NULL,
    latency double precision NOT NULL,
    response text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT ''
);
-- An endpoint's attempts newest first, by id as the page cursor; and retention.
CREATE INDEX postroom_webhook_attempts_endpoint ON postroom_webhook_attempts (endpoint_id, id);
CREATE INDEX postroom_webhook_attempts_at ON postroom_webhook_attempts (at);
