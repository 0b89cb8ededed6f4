-- The PostgreSQL queue and store, first version. Applied by `postroom migrate` (or on first use)
-- inside one transaction; never edit a migration that has shipped, add the next one instead.
--
-- Times are seconds since the Unix epoch as double precision, taken from the application's clock
-- and passed in by every query: the database's now() is never used for queue times, so every
-- process (and every test clock) agrees with what it wrote.
--
-- Ids are compared byte by byte (COLLATE "C"): ordering matches the other backends whatever the
-- database's locale, and comparisons are cheaper.

-- One row per email. The queue is the rows whose available_at is set: leasable when
-- available_at <= now. A lease pushes available_at forward by the visibility timeout, so an
-- expired lease needs no sweeper: the row is simply ready again.
CREATE TABLE postroom_emails (
    id text COLLATE "C" PRIMARY KEY,
    state text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    send_at double precision NOT NULL,
    available_at double precision,
    lease_token text,
    attempts integer NOT NULL DEFAULT 0,
    dead boolean NOT NULL DEFAULT false,
    provider text NOT NULL DEFAULT '',
    payload bytea NOT NULL
);
-- Only queued rows are indexed: the index stays the size of the backlog, not of the history,
-- and leasing reads it in (available_at, id) order without sorting.
CREATE INDEX postroom_emails_available ON postroom_emails (available_at, id)
    WHERE available_at IS NOT NULL;
CREATE INDEX postroom_emails_dead ON postroom_emails (id) WHERE dead;

-- Every state change after the first (which is read from the email's own row).
CREATE TABLE postroom_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email_id text COLLATE "C" NOT NULL REFERENCES postroom_emails (id) ON DELETE CASCADE,
    at double precision NOT NULL,
    state text NOT NULL,
    provider text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT ''
);
CREATE INDEX postroom_events_email ON postroom_events (email_id, seq);

-- Idempotency keys count for 24 h; an older row is taken over by the next request with its key.
CREATE TABLE postroom_idempotency (
    key text PRIMARY KEY,
    fingerprint bytea NOT NULL,
    email_id text COLLATE "C" NOT NULL,
    created_at double precision NOT NULL
);
