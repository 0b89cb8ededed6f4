-- Named queries of the PostgreSQL engine, parsed once by queries.py. Each starts at a
-- "-- name: x" line; the comment lines right after it describe it and are not sent.
--
-- Every query is one statement, so on an autocommit connection it is its own transaction: one
-- round trip, one commit. Data-modifying CTEs keep a change and its events (and its NOTIFY)
-- in that one statement. Times always come in as parameters (the application clock).
-- States are written {sending}, {waiting}, {final}, ...: queries.py puts in the values of
-- domain/states.py, so the rules live there alone.

-- name: insert_emails
-- A batch of new emails (one put each), with their recipients' keyed address hashes (each
-- email's `keys`: its hex keys joined by commas, one text per email, which costs the client far
-- less than an array element per key). An id already stored is skipped, its keys too, and
-- missing from the result. pg_notify runs once, only when a row was written; PostgreSQL
-- delivers it at commit.
WITH v AS (
    SELECT * FROM unnest(
        %(ids)s::text[], %(states)s::text[], %(created)s::float8[],
        %(not_before)s::float8[], %(owners)s::text[], %(payloads)s::bytea[],
        %(tenants)s::text[], %(tags)s::text[], %(keys)s::text[]
    ) AS v (id, state, created_at, not_before, owner, payload, tenant, tags, keys)
), new AS (
    INSERT INTO postroom_emails
        (id, state, created_at, updated_at, send_at, available_at, owner, payload, tenant, tags)
    SELECT v.id, v.state, v.created_at, v.created_at, v.not_before, v.not_before, v.owner,
        v.payload, v.tenant, v.tags::jsonb
    FROM v
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), recipients AS (
    INSERT INTO postroom_email_recipients (email_id, key, tenant, created_at)
    -- Each hex key stored as its first 128 bits (migration 0014).
    SELECT v.id, decode(substr(k, 1, 32), 'hex'), v.tenant, v.created_at
    FROM v JOIN new ON new.id = v.id, unnest(string_to_array(v.keys, ',')) AS k
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
        (id, state, created_at, updated_at, send_at, available_at, owner, payload, tenant, tags)
    SELECT email_id, %(state)s, %(now)s, %(now)s, %(not_before)s, %(not_before)s, %(owner)s,
        %(payload)s, %(tenant)s, %(tags)s::jsonb
    FROM claim
    RETURNING id
), recipients AS (
    INSERT INTO postroom_email_recipients (email_id, key, tenant, created_at)
    SELECT new.id, decode(substr(k, 1, 32), 'hex'), %(tenant)s, %(now)s
    FROM new, unnest(string_to_array(%(keys)s::text, ',')) AS k
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
-- rows are materialised first so LIMIT applies once, before the update. NO KEY UPDATE is the
-- lock the UPDATE takes anyway; unlike FOR UPDATE it lets event inserts (whose foreign key
-- check share-locks the email's key) carry on.
WITH picked AS MATERIALIZED (
    SELECT id, available_at FROM postroom_emails
    WHERE available_at <= %(now)s
    ORDER BY available_at, id
    LIMIT %(limit)s
    FOR NO KEY UPDATE SKIP LOCKED
), leased AS (
    UPDATE postroom_emails e
    SET state = {sending}, lease_token = %(token)s, available_at = %(until)s,
        attempts = e.attempts + 1, updated_at = %(now)s
    FROM picked
    WHERE e.id = picked.id
    RETURNING e.id, e.payload, e.attempts, e.created_at, picked.available_at AS was_available
), events AS (
    INSERT INTO postroom_events (email_id, at, state)
    SELECT id, %(now)s, {sending} FROM leased
)
SELECT id, payload, attempts, created_at FROM leased ORDER BY was_available, id

-- name: extend
UPDATE postroom_emails SET available_at = %(until)s
WHERE id = %(id)s AND lease_token = %(token)s
RETURNING id

-- name: extend_all
-- The worker's heartbeat: every lease it holds, in one statement; the result names those held.
UPDATE postroom_emails e SET available_at = %(until)s
FROM unnest(%(ids)s::text[], %(tokens)s::text[]) AS v(id, token)
WHERE e.id = v.id AND e.lease_token = v.token
RETURNING e.id, e.lease_token

-- name: settle
-- Ack, retry and dead-letter for a batch of leases: only rows whose lease token still matches
-- change, and the result names (by position) the leases that did. A settled lease's provider
-- attempts (the a_ arrays, tied to their lease by position) are written before its own event,
-- and every provider call among them (an outcome is set) to postroom_attempts as well.
WITH v AS (
    SELECT * FROM unnest(
        %(ids)s::text[], %(tokens)s::text[], %(states)s::text[], %(available)s::float8[],
        %(dead)s::bool[], %(providers)s::text[], %(ats)s::float8[], %(reasons)s::text[],
        %(outcomes)s::text[], %(codes)s::text[], %(message_ids)s::text[],
        %(durations)s::float8[]
    ) WITH ORDINALITY AS v (
        id, token, state, available_at, dead, provider, at, reason, outcome, code, message_id,
        duration_ms, n
    )
), attempts AS (
    SELECT * FROM unnest(
        %(a_n)s::int8[], %(a_ats)s::float8[], %(a_providers)s::text[], %(a_reasons)s::text[],
        %(a_outcomes)s::text[], %(a_codes)s::text[], %(a_durations)s::float8[]
    ) WITH ORDINALITY AS a (n, at, provider, reason, outcome, code, duration_ms, k)
), held AS MATERIALIZED (
    -- Locked in id order: two batches that share emails (a lapsed lease and its successor
    -- settling at once) then wait for each other instead of deadlocking.
    SELECT e.id FROM postroom_emails e JOIN v ON v.id = e.id AND v.token = e.lease_token
    ORDER BY e.id
    FOR NO KEY UPDATE OF e
), settled AS (
    UPDATE postroom_emails e
    SET state = v.state, available_at = v.available_at, dead = v.dead,
        provider = v.provider, updated_at = v.at, lease_token = NULL
    FROM v
    WHERE e.id = v.id AND e.lease_token = v.token AND e.id IN (SELECT id FROM held)
    RETURNING v.n, e.id, v.at, v.state, v.provider, v.reason, v.outcome, v.code, v.message_id,
        v.duration_ms
), events AS (
    INSERT INTO postroom_events (email_id, at, state, provider, reason, outcome, code)
    SELECT id, at, state, provider, reason, outcome, code FROM (
        SELECT s.n, a.k, s.id, a.at, {sending} AS state, a.provider, a.reason, a.outcome, a.code
        FROM attempts a JOIN settled s ON s.n = a.n
        UNION ALL
        SELECT n, NULL, id, at, state, provider, reason, outcome, code FROM settled
    ) x ORDER BY n, k NULLS LAST
), calls AS (
    INSERT INTO postroom_attempts
        (email_id, at, provider, message_id, outcome, code, duration_ms)
    SELECT s.id, a.at, a.provider, '', a.outcome, a.code, a.duration_ms
    FROM attempts a JOIN settled s ON s.n = a.n WHERE a.outcome <> ''
    UNION ALL
    SELECT id, at, provider, message_id, outcome, code, duration_ms FROM settled
    WHERE outcome <> ''
)
SELECT n FROM settled

-- name: stats
SELECT
    count(*) FILTER (WHERE available_at <= %(now)s),
    count(*) FILTER (WHERE available_at > %(now)s AND state <> {sending}),
    count(*) FILTER (WHERE available_at > %(now)s AND state = {sending}),
    (SELECT count(*) FROM postroom_emails WHERE dead),
    min(available_at) FILTER (WHERE available_at <= %(now)s)
FROM postroom_emails
WHERE available_at IS NOT NULL

-- name: status
-- The email and its events in one round trip; the first event is read from the email's row.
SELECT e.state, e.created_at, e.send_at, e.attempts, e.owner,
    v.at, v.state, v.provider, v.reason, v.outcome, v.code
FROM postroom_emails e LEFT JOIN postroom_events v ON v.email_id = e.id
WHERE e.id = %(id)s
ORDER BY v.seq

-- name: cancel
-- The state test and the change are one UPDATE: a worker leasing the row at the same moment
-- either got it first (the row is sending, nothing changes) or waits for the cancel.
WITH cancelled AS (
    UPDATE postroom_emails SET state = {cancelled}, available_at = NULL, updated_at = %(now)s
    WHERE id = %(id)s AND state IN ({waiting})
    RETURNING id
), events AS (
    INSERT INTO postroom_events (email_id, at, state)
    SELECT id, %(now)s, {cancelled} FROM cancelled
)
SELECT id FROM cancelled

-- name: page_emails
-- A page of a tenant's emails, newest first (the postroom_emails_tenant index read backwards);
-- a filter given as NULL is off. `at`, `id`: the position of the previous page's last email.
SELECT e.id, e.state, e.created_at, e.send_at, e.tags, e.provider
FROM postroom_emails e
WHERE e.tenant = %(tenant)s
    AND (%(state)s::text IS NULL OR e.state = %(state)s::text)
    AND (%(tag)s::text IS NULL OR e.tags ? %(tag)s::text)
    AND (%(since)s::float8 IS NULL OR e.created_at >= %(since)s::float8)
    AND (%(until)s::float8 IS NULL OR e.created_at < %(until)s::float8)
    AND (%(at)s::float8 IS NULL OR (e.created_at, e.id) < (%(at)s::float8, %(id)s::text))
ORDER BY e.created_at DESC, e.id DESC
LIMIT %(limit)s

-- name: page_emails_to
-- The same for the emails one of whose recipients has this keyed address hash, through the
-- postroom_email_recipients_key index.
SELECT e.id, e.state, e.created_at, e.send_at, e.tags, e.provider
FROM postroom_email_recipients r JOIN postroom_emails e ON e.id = r.email_id
WHERE r.tenant = %(tenant)s AND r.key = %(key)s::bytea
    AND (%(state)s::text IS NULL OR e.state = %(state)s::text)
    AND (%(tag)s::text IS NULL OR e.tags ? %(tag)s::text)
    AND (%(since)s::float8 IS NULL OR r.created_at >= %(since)s::float8)
    AND (%(until)s::float8 IS NULL OR r.created_at < %(until)s::float8)
    AND (%(at)s::float8 IS NULL OR (r.created_at, r.email_id) < (%(at)s::float8, %(id)s::text))
ORDER BY r.created_at DESC, r.email_id DESC
LIMIT %(limit)s

-- name: count_since
SELECT count(*) FROM postroom_emails WHERE owner = %(owner)s AND created_at >= %(since)s

-- name: state_of
SELECT state FROM postroom_emails WHERE id = %(id)s

-- name: dead
-- The last provider attempt names the provider and the error class.
SELECT e.id, e.updated_at, e.attempts, coalesce(a.provider, e.provider), coalesce(a.outcome, '')
FROM postroom_emails e
LEFT JOIN LATERAL (
    SELECT provider, outcome FROM postroom_events
    WHERE email_id = e.id AND outcome <> '' ORDER BY seq DESC LIMIT 1
) a ON true
WHERE e.dead AND e.id > %(after)s
ORDER BY e.id
LIMIT %(limit)s

-- name: redrive
-- An email whose content was purged has nothing left to send and stays dead.
WITH redriven AS (
    UPDATE postroom_emails
    SET dead = false, state = {queued}, available_at = %(now)s, attempts = 0,
        lease_token = NULL, updated_at = %(now)s
    WHERE dead AND id = ANY(%(ids)s::text[]) AND octet_length(payload) > 0
    RETURNING id
), events AS (
    INSERT INTO postroom_events (email_id, at, state, reason)
    SELECT id, %(now)s, {queued}, 'redriven' FROM redriven
)
SELECT array_agg(id), pg_notify('postroom_new', '') FROM redriven HAVING count(*) > 0

-- name: ping
-- Answers only when the schema is there; read-only (a replica, or a database switched to
-- read-only) is reported, since intake cannot store anything there.
SELECT current_setting('transaction_read_only'), to_regclass('postroom_emails') IS NOT NULL

-- name: payloads
-- Several emails' payloads in one read; those purged ('') left out.
SELECT id, payload FROM postroom_emails
WHERE id = ANY(%(ids)s::text[]) AND octet_length(payload) > 0

-- name: newest_payload
SELECT id, payload FROM postroom_emails
WHERE octet_length(payload) > 0
ORDER BY id DESC
LIMIT 1

-- name: purge_content
-- Content of emails that ended before the cutoff: the payload emptied, event reasons cleared
-- (but a sent event's, which holds the provider's message id), expired idempotency keys gone.
-- Every worker runs this hourly; the advisory lock lets one do it while the others skip the
-- round, so their scans of the table never wait on (or deadlock with) each other.
WITH lock AS (
    SELECT pg_try_advisory_xact_lock(%(lock)s) AS held
), purged AS (
    UPDATE postroom_emails SET payload = ''::bytea
    WHERE (SELECT held FROM lock)
        AND available_at IS NULL AND updated_at < %(before)s AND octet_length(payload) > 0
        AND state IN ({final})
    RETURNING id
), reasons AS (
    UPDATE postroom_events SET reason = ''
    WHERE email_id IN (SELECT id FROM purged) AND state <> {sent} AND reason <> ''
), keys AS (
    DELETE FROM postroom_idempotency
    WHERE (SELECT held FROM lock) AND created_at <= %(expired)s
), recipients AS (
    -- The recipients' keys go with the content: a purged email is no longer found by `to=`.
    DELETE FROM postroom_email_recipients WHERE email_id IN (SELECT id FROM purged)
)
SELECT count(*) FROM purged

-- name: count_emails
SELECT count(*) FROM postroom_emails

-- name: reseal_emails
-- A page to re-encrypt, locked so two runs cannot interleave on it (NO KEY UPDATE: workers
-- settling these emails may still add their events).
SELECT id, payload FROM postroom_emails
WHERE id > %(after)s
ORDER BY id
LIMIT %(limit)s
FOR NO KEY UPDATE

-- name: reseal_events
SELECT seq, email_id, reason FROM postroom_events
WHERE email_id = ANY(%(ids)s::text[]) AND reason <> ''

-- name: reseal_write
WITH payloads AS (
    UPDATE postroom_emails e SET payload = v.payload
    FROM unnest(%(ids)s::text[], %(payloads)s::bytea[]) AS v (id, payload)
    WHERE e.id = v.id
    RETURNING 1
), reasons AS (
    UPDATE postroom_events e SET reason = v.reason
    FROM unnest(%(seqs)s::bigint[], %(reasons)s::text[]) AS v (seq, reason)
    WHERE e.seq = v.seq
    RETURNING 1
)
SELECT (SELECT count(*) FROM payloads) + (SELECT count(*) FROM reasons)

-- name: create_key
INSERT INTO postroom_api_keys
    (id, name, token_hash, prefix, created_at, tenant, scopes, expires_at)
VALUES (
    %(id)s, %(name)s, %(token_hash)s, %(prefix)s, %(now)s, %(tenant)s, %(scopes)s,
    %(expires_at)s
)
RETURNING id

-- name: keys
SELECT token_hash, id, name, prefix, created_at, last_used_at, revoked_at, tenant, scopes,
    expires_at
FROM postroom_api_keys
WHERE revoked_at IS NULL OR NOT %(active)s
ORDER BY created_at, id

-- name: revoke_key
UPDATE postroom_api_keys SET revoked_at = coalesce(revoked_at, %(now)s)
WHERE id = %(key)s OR prefix = %(key)s
RETURNING id, name, prefix, created_at, last_used_at, revoked_at, tenant, scopes, expires_at

-- name: touch_keys
-- Every key used since the last call, in one statement.
UPDATE postroom_api_keys k SET last_used_at = v.at
FROM unnest(%(ids)s::text[], %(ats)s::float8[]) AS v (id, at)
WHERE k.id = v.id
RETURNING k.id

-- name: claim
-- The lease query for given ids (a queue apart from the store hands them out). A row another
-- worker is claiming at this moment is skipped; claim_rest then reports it as due now.
WITH picked AS MATERIALIZED (
    SELECT id, available_at FROM postroom_emails
    WHERE id = ANY(%(ids)s) AND available_at <= %(now)s
    FOR NO KEY UPDATE SKIP LOCKED
), leased AS (
    UPDATE postroom_emails e
    SET state = {sending}, lease_token = %(token)s, available_at = %(until)s,
        attempts = e.attempts + 1, updated_at = %(now)s
    FROM picked
    WHERE e.id = picked.id
    RETURNING e.id, e.payload, e.attempts, e.created_at
), events AS (
    INSERT INTO postroom_events (email_id, at, state)
    SELECT id, %(now)s, {sending} FROM leased
)
SELECT id, payload, attempts, created_at FROM leased ORDER BY id

-- name: claim_rest
-- When each of the ids that were not claimed may be: null for a final state.
SELECT id, available_at FROM postroom_emails WHERE id = ANY(%(ids)s)

-- name: withdraw
-- Events go with the email (ON DELETE CASCADE); its recipients' keys have no foreign key.
WITH keys AS (
    DELETE FROM postroom_idempotency WHERE email_id = %(id)s
), recipients AS (
    DELETE FROM postroom_email_recipients WHERE email_id = %(id)s
)
DELETE FROM postroom_emails WHERE id = %(id)s RETURNING id

-- name: waiting
SELECT id, available_at FROM postroom_emails
WHERE available_at IS NOT NULL AND id > %(after)s
ORDER BY id LIMIT %(limit)s

-- name: find_by_provider_id
-- One lookup of the (provider, message_id) index.
SELECT email_id FROM postroom_attempts
WHERE provider = %(provider)s AND message_id = %(message_id)s
LIMIT 1

-- name: content
-- The owner and the payload ('' once purged), for matching provider events to recipients.
SELECT owner, payload FROM postroom_emails WHERE id = %(id)s

-- name: record_events
-- A batch of provider events in one statement, with its replay token when there is one. An
-- event whose (provider, dedup_key) is stored is skipped; ON CONFLICT waits for a concurrent
-- insert of the same key to commit first, so of two copies sent at once exactly one is stored.
-- With a token the events are written only if this statement claimed it; when the first count
-- is 0 the token was there, and replay_digest reads its digest. Seqs follow the batch's order
-- (not key order, as suppress locks in: a provider resends a batch as it was, so two copies in
-- flight insert in the same order and one waits for the other instead of deadlocking).
-- An event that names its email (Postroom's own) is stored matched, the others pending, due
-- at once; the third column is the seqs of the matched ones (null: none), for feed_events.
WITH claim AS (
    INSERT INTO postroom_replay_tokens (token, digest, created_at)
    SELECT %(token)s::text, %(digest)s::text, %(now)s::float8
    WHERE %(token)s::text IS NOT NULL
    ON CONFLICT (token) DO NOTHING
    RETURNING token
), new AS (
    INSERT INTO postroom_provider_events
        (provider, dedup_key, type, at, received_at, recipient_key, provider_message_id,
        correlation_id, reject_reason, bounce, description, email_id, recipient_index, tenant,
        state, not_before)
    SELECT v.provider, v.dedup_key, v.type, v.at, v.received_at, v.recipient_key,
        v.provider_message_id, v.correlation_id, v.reject_reason, v.bounce, v.description,
        v.email_id, v.recipient_index, v.tenant,
        CASE WHEN v.email_id = '' THEN 'pending' ELSE 'matched' END, v.received_at
    FROM unnest(
        %(providers)s::text[], %(dedup_keys)s::text[], %(types)s::text[], %(ats)s::float8[],
        %(received)s::float8[], %(recipient_keys)s::text[], %(message_ids)s::text[],
        %(correlation_ids)s::text[], %(reject_reasons)s::text[], %(bounces)s::text[],
        %(descriptions)s::text[], %(email_ids)s::text[], %(indexes)s::int4[], %(tenants)s::text[]
    ) WITH ORDINALITY AS v (
        provider, dedup_key, type, at, received_at, recipient_key, provider_message_id,
        correlation_id, reject_reason, bounce, description, email_id, recipient_index, tenant, n
    )
    WHERE %(token)s::text IS NULL OR EXISTS (SELECT 1 FROM claim)
    ORDER BY v.n
    ON CONFLICT (provider, dedup_key) DO NOTHING
    RETURNING seq, email_id
)
SELECT (SELECT count(*) FROM claim), (SELECT count(*) FROM new),
    (SELECT array_agg(seq ORDER BY seq) FROM new WHERE email_id <> '')

-- name: replay_digest
-- A separate statement, so it sees the token record_events just waited for.
SELECT digest FROM postroom_replay_tokens WHERE token = %(token)s

-- name: pending_events
-- The lease query's pattern (see lease): SKIP LOCKED, so two processors never take the same
-- events; taking one pushes its not_before past the hold.
WITH picked AS MATERIALIZED (
    SELECT seq, not_before FROM postroom_provider_events
    WHERE state = 'pending' AND not_before <= %(now)s
    ORDER BY not_before, seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE postroom_provider_events e SET not_before = %(until)s
    FROM picked
    WHERE e.seq = picked.seq
    RETURNING picked.not_before AS was, e.*
)
SELECT provider, dedup_key, type, at, received_at, recipient_key, provider_message_id,
    correlation_id, reject_reason, bounce, description, seq, email_id, recipient_index, tenant
FROM leased
ORDER BY was, seq

-- name: resolve_events
-- Only pending events change: matched and unmatched are final, so a processor whose hold
-- lapsed and whose events another one resolved changes nothing. A null not_before keeps it.
UPDATE postroom_provider_events e
SET state = v.state, email_id = v.email_id, recipient_index = v.recipient_index,
    tenant = v.tenant, not_before = coalesce(v.not_before, e.not_before)
FROM unnest(
    %(seqs)s::int8[], %(states)s::text[], %(email_ids)s::text[], %(indexes)s::int4[],
    %(tenants)s::text[], %(not_before)s::float8[]
) AS v (seq, state, email_id, recipient_index, tenant, not_before)
WHERE e.seq = v.seq AND e.state = 'pending'
RETURNING e.seq

-- name: events_of_email
SELECT provider, dedup_key, type, at, received_at, recipient_key, provider_message_id,
    correlation_id, reject_reason, bounce, description, seq, email_id, recipient_index, tenant
FROM postroom_provider_events
WHERE email_id = %(email_id)s
ORDER BY at, seq

-- name: soft_bounces
-- One range of the (tenant, recipient_key, at) index of bounces (migration 0015): the type is
-- a literal, as the index's condition is, so that every plan of this query may use it.
SELECT count(*) FROM postroom_provider_events
WHERE tenant = %(tenant)s AND recipient_key = %(recipient_key)s AND at >= %(since)s
    AND state = 'matched' AND type = 'bounced' AND bounce = %(bounce)s

-- name: event_counts
SELECT state, count(*) FROM postroom_provider_events GROUP BY state

-- name: purge_events
-- Retention, hourly in every worker: the advisory lock lets one do it while the others skip
-- the round (as purge_content does).
WITH lock AS (
    SELECT pg_try_advisory_xact_lock(%(lock)s) AS held
), tokens AS (
    DELETE FROM postroom_replay_tokens
    WHERE (SELECT held FROM lock) AND created_at < %(before)s
), purged AS (
    DELETE FROM postroom_provider_events
    WHERE (SELECT held FROM lock) AND received_at < %(before)s
    RETURNING 1
)
SELECT count(*) FROM purged

-- name: suppress
-- Entries with distinct (tenant, key, scope) (suppressions.py splits a batch that repeats one),
-- locked in key order so two batches that share addresses wait for each other instead of
-- deadlocking. The port's replace rule: the stored entry has expired by the new one's
-- creation, or it expires and the new one never does. One row per entry that changed.
INSERT INTO postroom_suppressions AS s
    (tenant, key, address, scope, reason, created_at, expires_at, provider, event, email_id)
SELECT * FROM unnest(
    %(tenants)s::text[], %(keys)s::text[], %(addresses)s::text[], %(scopes)s::text[],
    %(reasons)s::text[], %(created)s::float8[], %(expires)s::float8[], %(providers)s::text[],
    %(events)s::text[], %(email_ids)s::text[]
) AS v (tenant, key, address, scope, reason, created_at, expires_at, provider, event, email_id)
ORDER BY v.tenant, v.key, v.scope
ON CONFLICT (tenant, key, scope) DO UPDATE
    SET address = excluded.address, reason = excluded.reason,
        created_at = excluded.created_at, expires_at = excluded.expires_at,
        provider = excluded.provider, event = excluded.event, email_id = excluded.email_id
    WHERE s.expires_at IS NOT NULL
        AND (s.expires_at <= excluded.created_at OR excluded.expires_at IS NULL)
RETURNING 1

-- name: find_suppressions
-- One probe of the primary key per (tenant, key): this runs on every intake and every send,
-- for every lookup that arrived together.
SELECT s.tenant, s.key, s.address, s.scope, s.reason, s.created_at, s.expires_at, s.provider,
       s.event, s.email_id
FROM unnest(%(tenants)s::text[], %(keys)s::text[]) AS wanted(tenant, key)
JOIN postroom_suppressions s ON s.tenant = wanted.tenant AND s.key = wanted.key
ORDER BY s.key, s.scope

-- name: remove_suppressions
-- A null scope removes every scope of the address.
DELETE FROM postroom_suppressions
WHERE tenant = %(tenant)s AND key = %(key)s AND (%(scope)s::text IS NULL OR scope = %(scope)s)
RETURNING 1

-- name: page_suppressions
-- In the primary key's order, after the cursor's (key, scope) unless this is the first page;
-- one row more than the page tells whether there is a next one.
SELECT tenant, key, address, scope, reason, created_at, expires_at, provider, event, email_id
FROM postroom_suppressions
WHERE tenant = %(tenant)s AND (%(reason)s::text IS NULL OR reason = %(reason)s)
    AND (%(first)s OR (key, scope) > (%(key)s::text, %(scope)s::text))
ORDER BY key, scope
LIMIT %(limit)s

-- name: create_template
-- Version 1 only when the (tenant, name) row was new: one statement, so one transaction.
WITH added AS (
    INSERT INTO postroom_templates (tenant, name, id, latest)
    VALUES (%(tenant)s, %(name)s, %(id)s, 1)
    ON CONFLICT (tenant, name) DO NOTHING
    RETURNING id
)
INSERT INTO postroom_template_versions (template_id, version, definition, created_at)
SELECT id, 1, %(definition)s, %(now)s FROM added
RETURNING 1

-- name: add_template_version
WITH bumped AS (
    UPDATE postroom_templates SET latest = latest + 1
    WHERE tenant = %(tenant)s AND name = %(name)s
    RETURNING id, latest
)
INSERT INTO postroom_template_versions (template_id, version, definition, created_at)
SELECT id, latest, %(definition)s, %(now)s FROM bumped
RETURNING version

-- name: publish_template
UPDATE postroom_templates SET current = latest
WHERE tenant = %(tenant)s AND name = %(name)s
RETURNING latest

-- name: find_template
-- The newest and the current version: one row when they are the same or nothing is published.
SELECT t.id, t.latest, t.current, v.version, v.definition, v.created_at
FROM postroom_templates t
JOIN postroom_template_versions v ON v.template_id = t.id AND v.version IN (t.latest, t.current)
WHERE t.tenant = %(tenant)s AND t.name = %(name)s

-- name: template_page
-- A range of the (tenant, name) primary key, in byte order (the "C" collation); version 1
-- gives the creation time, the newest version the last change. Every name is longer than ''.
SELECT t.id, t.name, t.latest, t.current, oldest.created_at, newest.created_at
FROM postroom_templates t
JOIN postroom_template_versions oldest ON oldest.template_id = t.id AND oldest.version = 1
JOIN postroom_template_versions newest ON newest.template_id = t.id AND newest.version = t.latest
WHERE t.tenant = %(tenant)s AND t.name > %(after)s
ORDER BY t.name
LIMIT %(limit)s

-- name: delete_template
WITH gone AS (
    DELETE FROM postroom_templates WHERE tenant = %(tenant)s AND name = %(name)s RETURNING id
)
DELETE FROM postroom_template_versions v USING gone WHERE v.template_id = gone.id
RETURNING 1

-- name: feed_events
-- Feed items for the matched ones of these events, in event order, and one message per item
-- and enabled endpoint of its tenant that takes its type (types '' or holding ',type,'). An
-- event fed already is skipped (its event_seq is unique), so asking twice adds nothing. Run
-- under the feed's lock (feed.py), so the items' seqs commit in order. Answers how many
-- messages it made (a dispatcher has something to lease only then).
WITH items AS (
    INSERT INTO postroom_feed_items (tenant, type, at, created_at, event_seq)
    SELECT tenant, 'email.' || type, at, %(now)s, seq
    FROM postroom_provider_events
    WHERE seq = ANY(%(seqs)s::int8[]) AND state = 'matched' AND type <> 'unknown'
    ORDER BY seq
    ON CONFLICT (event_seq) DO NOTHING
    RETURNING seq, tenant, type
), messages AS (
    INSERT INTO postroom_webhook_messages
        (webhook_id, endpoint_id, tenant, type, feed_seq, state, attempts, created_at, next_at)
    SELECT 'evt_' || i.seq, w.id, i.tenant, i.type, i.seq, 'pending', 0, %(now)s, %(now)s
    FROM items i
    JOIN postroom_webhook_endpoints w ON w.tenant = i.tenant AND w.enabled
        AND (w.types = '' OR strpos(w.types, ',' || i.type || ',') > 0)
    ORDER BY i.seq, w.created_at, w.id
    RETURNING 1
)
SELECT count(*) FROM messages

-- name: disable_endpoint
-- Only an enabled endpoint is disabled, so two outcomes racing to it add one item: the feed
-- item telling so, fanned out to the tenant's other endpoints that take it. Under the feed's
-- lock, like feed_events.
WITH disabled AS (
    UPDATE postroom_webhook_endpoints SET enabled = false, disabled_reason = %(reason)s
    WHERE id = %(id)s AND enabled
    RETURNING id, tenant
), items AS (
    INSERT INTO postroom_feed_items (tenant, type, at, created_at, data)
    SELECT tenant, 'webhook.endpoint.disabled', %(at)s, %(now)s, %(data)s FROM disabled
    RETURNING seq, tenant, type
), messages AS (
    INSERT INTO postroom_webhook_messages
        (webhook_id, endpoint_id, tenant, type, feed_seq, state, attempts, created_at, next_at)
    SELECT 'evt_' || i.seq, w.id, i.tenant, i.type, i.seq, 'pending', 0, %(now)s, %(now)s
    FROM items i
    JOIN postroom_webhook_endpoints w ON w.tenant = i.tenant AND w.enabled AND w.id <> %(id)s
        AND (w.types = '' OR strpos(w.types, ',' || i.type || ',') > 0)
    ORDER BY w.created_at, w.id
)
SELECT count(*) FROM items

-- name: feed
-- One range of the (tenant, seq) index; types as an endpoint's are stored ('' for all).
SELECT f.seq, f.tenant, f.type, f.at, f.created_at, coalesce(e.email_id, ''),
    coalesce(e.recipient_index, -1), coalesce(e.provider, ''), coalesce(e.bounce, ''),
    coalesce(e.reject_reason, ''), coalesce(e.description, ''), f.data
FROM postroom_feed_items f
LEFT JOIN postroom_provider_events e ON e.seq = f.event_seq
WHERE f.tenant = %(tenant)s AND f.seq > %(after)s
    AND (%(types)s::text = '' OR strpos(%(types)s::text, ',' || f.type || ',') > 0)
ORDER BY f.seq
LIMIT %(limit)s

-- name: create_endpoint
INSERT INTO postroom_webhook_endpoints
    (id, tenant, url, types, description, enabled, secrets, created_at, updated_at,
    disabled_reason, failing_since)
VALUES (%(id)s, %(tenant)s, %(url)s, %(types)s, %(description)s, %(enabled)s, %(secrets)s,
    %(created_at)s, %(updated_at)s, %(disabled_reason)s, %(failing_since)s)
RETURNING 1

-- name: endpoints
-- The tenant's endpoints oldest first, or the one of that id.
SELECT id, tenant, url, types, description, enabled, secrets, created_at, updated_at,
    disabled_reason, failing_since
FROM postroom_webhook_endpoints
WHERE tenant = %(tenant)s AND (%(id)s::text IS NULL OR id = %(id)s)
ORDER BY created_at, id

-- name: update_endpoint
UPDATE postroom_webhook_endpoints
SET url = %(url)s, types = %(types)s, description = %(description)s, enabled = %(enabled)s,
    secrets = %(secrets)s, created_at = %(created_at)s, updated_at = %(updated_at)s,
    disabled_reason = %(disabled_reason)s, failing_since = %(failing_since)s
WHERE tenant = %(tenant)s AND id = %(id)s
RETURNING 1

-- name: delete_endpoint
-- Its messages and attempts in the same statement. Run under the feed's lock (feed.py), so a
-- fan-out that still saw the endpoint has committed its messages before they are deleted.
WITH gone AS (
    DELETE FROM postroom_webhook_endpoints WHERE tenant = %(tenant)s AND id = %(id)s
    RETURNING id
), messages AS (
    DELETE FROM postroom_webhook_messages WHERE endpoint_id IN (SELECT id FROM gone)
), attempts AS (
    DELETE FROM postroom_webhook_attempts WHERE endpoint_id IN (SELECT id FROM gone)
)
SELECT count(*) FROM gone

-- name: enqueue_webhooks
INSERT INTO postroom_webhook_messages
    (webhook_id, endpoint_id, tenant, type, payload, state, attempts, created_at, next_at)
SELECT v.webhook_id, v.endpoint_id, v.tenant, v.type, v.payload, 'pending', 0, %(now)s,
    v.next_at
FROM unnest(
    %(webhook_ids)s::text[], %(endpoint_ids)s::text[], %(tenants)s::text[], %(types)s::text[],
    %(payloads)s::text[], %(next_at)s::float8[]
) WITH ORDINALITY AS v (webhook_id, endpoint_id, tenant, type, payload, next_at, n)
ORDER BY v.n
RETURNING 1

-- name: lease_webhooks
-- The lease query's pattern (see lease): SKIP LOCKED, so two dispatchers never take the same
-- messages; taking one pushes its next_at past the hold. Each comes with its endpoint and, for
-- a feed message, its item (nulls once purged).
WITH picked AS MATERIALIZED (
    SELECT m.id, m.next_at FROM postroom_webhook_messages m
    JOIN postroom_webhook_endpoints w ON w.id = m.endpoint_id AND w.enabled
    WHERE m.state = 'pending' AND m.next_at <= %(now)s
    ORDER BY m.next_at, m.id
    LIMIT %(limit)s
    FOR UPDATE OF m SKIP LOCKED
), leased AS (
    UPDATE postroom_webhook_messages m SET next_at = %(until)s
    FROM picked
    WHERE m.id = picked.id
    RETURNING picked.next_at AS was, m.*
)
SELECT l.id, l.webhook_id, l.endpoint_id, l.tenant, l.type, l.state, l.attempts, l.created_at,
    l.next_at, l.payload, l.feed_seq,
    w.id, w.tenant, w.url, w.types, w.description, w.enabled, w.secrets, w.created_at,
    w.updated_at, w.disabled_reason, w.failing_since,
    f.seq, f.tenant, f.type, f.at, f.created_at, coalesce(e.email_id, ''),
    coalesce(e.recipient_index, -1), coalesce(e.provider, ''), coalesce(e.bounce, ''),
    coalesce(e.reject_reason, ''), coalesce(e.description, ''), f.data
FROM leased l
JOIN postroom_webhook_endpoints w ON w.id = l.endpoint_id
LEFT JOIN postroom_feed_items f ON f.seq = l.feed_seq
LEFT JOIN postroom_provider_events e ON e.seq = f.event_seq
ORDER BY l.was, l.id

-- name: settle_webhooks
-- The attempts, each message's state, attempts count and next_at (null keeps it), each
-- endpoint's failing_since (a success resets it to the first failure after it). Rows are
-- locked in id order, so two dispatchers settling the same endpoints (or a lapsed lease and
-- its successor the same message) wait for each other instead of deadlocking; an endpoint
-- whose failing_since stays as it is is not written at all (the common case: a healthy one).
WITH added AS (
    INSERT INTO postroom_webhook_attempts
        (message_id, webhook_id, endpoint_id, at, status, latency, response, error)
    SELECT message_id, webhook_id, endpoint_id, at, status, latency, response, error
    FROM unnest(
        %(a_messages)s::int8[], %(a_webhooks)s::text[], %(a_endpoints)s::text[],
        %(a_ats)s::float8[], %(a_statuses)s::int4[], %(a_latencies)s::float8[],
        %(a_responses)s::text[], %(a_errors)s::text[]
    ) WITH ORDINALITY AS a (
        message_id, webhook_id, endpoint_id, at, status, latency, response, error, n
    )
    ORDER BY n
), m AS (
    SELECT * FROM unnest(
        %(ids)s::int8[], %(states)s::text[], %(next_at)s::float8[], %(counts)s::int4[]
    ) AS v (id, state, next_at, attempts)
), held_messages AS MATERIALIZED (
    SELECT id FROM postroom_webhook_messages WHERE id IN (SELECT id FROM m)
    ORDER BY id
    FOR NO KEY UPDATE
), messages AS (
    UPDATE postroom_webhook_messages x
    SET state = m.state, next_at = coalesce(m.next_at, x.next_at),
        attempts = x.attempts + m.attempts
    FROM m
    WHERE x.id = m.id AND x.id IN (SELECT id FROM held_messages)
), e AS (
    SELECT * FROM unnest(%(endpoints)s::text[], %(resets)s::bool[], %(since)s::float8[])
        AS v (id, reset, since)
), held_endpoints AS MATERIALIZED (
    SELECT w.id FROM postroom_webhook_endpoints w JOIN e ON e.id = w.id
    WHERE w.failing_since IS DISTINCT FROM
        CASE WHEN e.reset THEN e.since ELSE coalesce(w.failing_since, e.since) END
    ORDER BY w.id
    FOR NO KEY UPDATE OF w
), endpoints AS (
    UPDATE postroom_webhook_endpoints w
    SET failing_since =
        CASE WHEN e.reset THEN e.since ELSE coalesce(w.failing_since, e.since) END
    FROM e
    WHERE w.id = e.id AND w.id IN (SELECT id FROM held_endpoints)
)
SELECT 1

-- name: webhook_attempts
-- The endpoint's attempts newest first, below the cursor: one range of (endpoint_id, id).
SELECT message_id, webhook_id, endpoint_id, at, status, latency, response, error, id
FROM postroom_webhook_attempts
WHERE endpoint_id = %(id)s AND (%(before)s <= 0 OR id < %(before)s)
    AND EXISTS (
        SELECT 1 FROM postroom_webhook_endpoints WHERE id = %(id)s AND tenant = %(tenant)s
    )
ORDER BY id DESC
LIMIT %(limit)s

-- name: replay_webhooks
UPDATE postroom_webhook_messages SET state = 'pending', attempts = 0, next_at = %(now)s
WHERE endpoint_id = %(id)s AND tenant = %(tenant)s
    AND created_at >= %(since)s AND created_at < %(until)s
    AND (NOT %(failed_only)s OR state = 'failed')
    AND (%(webhook_id)s::text = '' OR webhook_id = %(webhook_id)s::text)
RETURNING 1

-- name: webhook_counts
SELECT state, count(*) FROM postroom_webhook_messages GROUP BY state

-- name: purge_webhooks
-- Retention, hourly in every worker: the advisory lock lets one do it while the others skip
-- the round (as purge_events does). Pending messages stay, however old: they are still owed.
WITH lock AS (
    SELECT pg_try_advisory_xact_lock(%(lock)s) AS held
), messages AS (
    DELETE FROM postroom_webhook_messages
    WHERE (SELECT held FROM lock) AND created_at < %(before)s AND state <> 'pending'
), attempts AS (
    DELETE FROM postroom_webhook_attempts
    WHERE (SELECT held FROM lock) AND at < %(before)s
), purged AS (
    DELETE FROM postroom_feed_items
    WHERE (SELECT held FROM lock) AND created_at < %(before)s
    RETURNING 1
)
SELECT count(*) FROM purged
