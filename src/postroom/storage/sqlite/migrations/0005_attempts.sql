-- Provider attempts as data: one row per provider call, written by the settle that records
-- its event. An email is found by the id its provider gave it (for the provider's webhooks)
-- through the (provider, message_id) index; message_id is '' for a call that failed.
CREATE TABLE IF NOT EXISTS attempts (
    email_id TEXT NOT NULL,
    at REAL NOT NULL,
    provider TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL,
    code TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS attempts_message ON attempts (provider, message_id);
CREATE INDEX IF NOT EXISTS attempts_email ON attempts (email_id);
-- Attempts settled before this version, from their events (a sent event's reason is the
-- provider's message id). The literal is this version's name of that state, fixed with it.
INSERT INTO attempts (email_id, at, provider, message_id, outcome, code)
SELECT email_id, at, provider, CASE WHEN state = 'sent' THEN reason ELSE '' END, outcome, code
FROM events WHERE outcome != '' ORDER BY rowid;
