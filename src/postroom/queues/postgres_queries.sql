-- Named queries of the PostgreSQL backend, parsed once by postgres.py. Each starts at a
-- "-- name: x" line; the comment lines right after it describe it and are not sent.
--
-- Every query is one statement, so on an autocommit connection it is its own transaction: one
-- round trip, one commit. Data-modifying CTEs keep a change and its events (and its NOTIFY)
-- in that one statement. Times always come in as parameters (the application clock).

-- name: insert_emails
-- A batch of new emails (one put each). An id already stored is skipped and missing from the
-- result. pg_notify runs once, only when a row was written; PostgreSQL delivers it at commit.
WITH new AS (
    INSERT INTO postroom_emails
        (id, state, created_at, updated_at, send_at, available_at, payload)
    SELECT v.id, v.state, v.created_at, v.created_at, v.not_before, v.not_before, v.payload
    FROM unnest(
        %(ids)s::text[], %(states)s::text[], %(created)s::float8[],
        %(not_before)s::float8[], %(payloads)s::bytea[]
    ) AS v (id, state, created_at, not_before, payload)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
SELECT array_agg(id), pg_notify('postroom_new', '') FROM new HAVING count(*) > 0

-- name: put_with_key
-- Claim the idempotency key and store the email in one statement. ON CONFLICT waits for a
-- concurrent claim of the same key to commit, then takes the key over only if it expired, so
-- of many simultaneous puts with one key exactly one stores an email. No row: not claimed.
WITH claim AS (
    INSERT INTO postroom_idempotency AS i (key, fingerprint, email_id, created_at)
    VALUES (%(key)s, %(fingerprint)s, %(id)s, %(now)s)
    ON CONFLICT (key) DO UPDATE
        SET fingerprint = excluded.fingerprint, email_id = excluded.email_id,
            created_at = excluded.created_at
        WHERE i.created_at <= %(expired)s
    RETURNING email_id
), new AS (
    INSERT INTO postroom_emails
        (id, state, created_at, updated_at, send_at, available_at, payload)
    SELECT email_id, %(state)s, %(now)s, %(now)s, %(not_before)s, %(not_before)s, %(payload)s
    FROM claim
    RETURNING id
)
SELECT id, pg_notify('postroom_new', '') FROM new

-- name: find_key
-- The email a live idempotency key names. A separate statement, so it sees the claim that
-- put_with_key just waited for.
SELECT i.fingerprint, i.email_id, e.state
FROM postroom_idempotency i JOIN postroom_emails e ON e.id = i.email_id
WHERE i.key = %(key)s AND i.created_at > %(expired)s

-- name: lease
-- SKIP LOCKED: rows another worker is leasing at this moment are passed over, not waited for,
-- so workers never hand out the same email and never queue up behind each other. The picked
-- rows are materialised first so LIMIT applies once, before the update.
WITH picked AS MATERIALIZED (
    SELECT id, available_at FROM postroom_emails
    WHERE available_at <= %(now)s
    ORDER BY available_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE postroom_emails e
    SET state = 'sending', lease_token = %(token)s, available_at = %(until)s,
        attempts = e.attempts + 1, updated_at = %(now)s
    FROM picked
    WHERE e.id = picked.id
    RETURNING e.id, e.payload, e.attempts, e.created_at, picked.available_at AS was_available
), events AS (
    INSERT INTO postroom_events (email_id, at, state)
    SELECT id, %(now)s, 'sending' FROM leased
)
SELECT id, payload, attempts, created_at FROM leased ORDER BY was_available, id

-- name: extend
UPDATE postroom_emails SET available_at = %(until)s
WHERE id = %(id)s AND lease_token = %(token)s

-- name: settle
-- Ack, retry and dead-letter for a batch of leases: only rows whose lease token still matches
-- change, and the result names (by position) the leases that did.
WITH v AS (
    SELECT * FROM unnest(
        %(ids)s::text[], %(tokens)s::text[], %(states)s::text[], %(available)s::float8[],
        %(dead)s::bool[], %(providers)s::text[], %(ats)s::float8[], %(reasons)s::text[]
    ) WITH ORDINALITY AS v (id, token, state, available_at, dead, provider, at, reason, n)
), held AS MATERIALIZED (
    -- Locked in id order: two batches that share emails (a lapsed lease and its successor
    -- settling at once) then wait for each other instead of deadlocking.
    SELECT e.id FROM postroom_emails e JOIN v ON v.id = e.id AND v.token = e.lease_token
    ORDER BY e.id
    FOR UPDATE OF e
), settled AS (
    UPDATE postroom_emails e
    SET state = v.state, available_at = v.available_at, dead = v.dead,
        provider = v.provider, updated_at = v.at, lease_token = NULL
    FROM v
    WHERE e.id = v.id AND e.lease_token = v.token AND e.id IN (SELECT id FROM held)
    RETURNING v.n, e.id, v.at, v.state, v.provider, v.reason
), events AS (
    INSERT INTO postroom_events (email_id, at, state, provider, reason)
    SELECT id, at, state, provider, reason FROM settled ORDER BY n
)
SELECT n FROM settled

-- name: stats
SELECT
    count(*) FILTER (WHERE available_at <= %(now)s),
    count(*) FILTER (WHERE available_at > %(now)s AND state <> 'sending'),
    count(*) FILTER (WHERE available_at > %(now)s AND state = 'sending'),
    (SELECT count(*) FROM postroom_emails WHERE dead),
    min(available_at) FILTER (WHERE available_at <= %(now)s)
FROM postroom_emails
WHERE available_at IS NOT NULL

-- name: status
-- The email and its events in one round trip; the first event is read from the email's row.
SELECT e.state, e.created_at, e.send_at, e.attempts, v.at, v.state, v.provider, v.reason
FROM postroom_emails e LEFT JOIN postroom_events v ON v.email_id = e.id
WHERE e.id = %(id)s
ORDER BY v.seq

-- name: cancel
-- The state test and the change are one UPDATE: a worker leasing the row at the same moment
-- either got it first (the row is sending, nothing changes) or waits for the cancel.
WITH cancelled AS (
    UPDATE postroom_emails SET state = 'cancelled', available_at = NULL, updated_at = %(now)s
    WHERE id = %(id)s AND state IN ('queued', 'scheduled', 'retrying')
    RETURNING id
), events AS (
    INSERT INTO postroom_events (email_id, at, state)
    SELECT id, %(now)s, 'cancelled' FROM cancelled
)
SELECT id FROM cancelled

-- name: state_of
SELECT state FROM postroom_emails WHERE id = %(id)s

-- name: dead
SELECT id, updated_at, attempts, provider FROM postroom_emails
WHERE dead AND id > %(after)s
ORDER BY id
LIMIT %(limit)s

-- name: redrive
WITH redriven AS (
    UPDATE postroom_emails
    SET dead = false, state = 'queued', available_at = %(now)s, attempts = 0,
        lease_token = NULL, updated_at = %(now)s
    WHERE dead AND id = ANY(%(ids)s::text[])
    RETURNING id
), events AS (
    INSERT INTO postroom_events (email_id, at, state, reason)
    SELECT id, %(now)s, 'queued', 'redriven' FROM redriven
)
SELECT array_agg(id), pg_notify('postroom_new', '') FROM redriven HAVING count(*) > 0

-- name: ping
-- Answers only when the schema is there; read-only (a replica, or a database switched to
-- read-only) is reported, since intake cannot store anything there.
SELECT current_setting('transaction_read_only'), to_regclass('postroom_emails') IS NOT NULL
