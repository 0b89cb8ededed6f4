-- Provider attempts as data: one row per provider call, written by the statement that settles
-- the lease. An email is found by the id its provider gave it (for the provider's webhooks)
-- through the (provider, message_id) index; message_id is '' for a call that failed.
CREATE TABLE postroom_attempts (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email_id text COLLATE "C" NOT NULL REFERENCES postroom_emails (id) ON DELETE CASCADE,
    at double precision NOT NULL,
    provider text NOT NULL,
    message_id text NOT NULL DEFAULT '',
    outcome text NOT NULL,
    code text NOT NULL DEFAULT ''
);
CREATE INDEX postroom_attempts_message ON postroom_attempts (provider, message_id);
CREATE INDEX postroom_attempts_email ON postroom_attempts (email_id);

-- Attempts settled before this version, from their events (a sent event's reason is the
-- provider's message id). The literal is this version's name of that state, fixed with it.
INSERT INTO postroom_attempts (email_id, at, provider, message_id, outcome, code)
SELECT email_id, at, provider, CASE WHEN state = 'sent' THEN reason ELSE '' END, outcome, code
FROM postroom_events WHERE outcome <> '' ORDER BY seq;
