-- The embedded queue and store, first version. Never edit a migration that has shipped; add
-- the next one instead. The version reached is kept in PRAGMA user_version.
--
-- One row per email; the queue is the rows whose available_at is set: leasable when
-- available_at <= now. Leasing pushes available_at forward by the visibility timeout, so an
-- expired lease needs no sweeper: the row is simply ready again.
CREATE TABLE IF NOT EXISTS emails (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    send_at REAL NOT NULL,
    available_at REAL,
    lease_token TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    dead INTEGER NOT NULL DEFAULT 0,
    provider TEXT NOT NULL DEFAULT '',
    payload BLOB
);
CREATE INDEX IF NOT EXISTS emails_available ON emails (available_at)
    WHERE available_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS emails_dead ON emails (id) WHERE dead = 1;

CREATE TABLE IF NOT EXISTS events (
    email_id TEXT NOT NULL,
    at REAL NOT NULL,
    state TEXT NOT NULL,
    provider TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_email ON events (email_id);

-- Idempotency keys live 24 h; an older row is replaced by the next request with that key.
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint BLOB NOT NULL,
    email_id TEXT NOT NULL,
    created_at REAL NOT NULL
);
