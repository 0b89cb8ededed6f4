-- Three indexes of provider_events narrowed to the rows their one reader asks for. Every
-- delivery records Postroom's own `sent` per recipient (matched, with no recipient key), and
-- each index entry is work on the write path a settle waits for (docs/benchmarks.md,
-- "Delivery"): the processor hands out pending events by time, the dashboard counts
-- delivered, bounced and complained events by state and time (activity.py), and the
-- soft-bounce count reads one recipient's bounces (events.py). A matched or unmatched event
-- leaves the pending index (nothing else read it: the counts by state scan the table).
-- Each query repeats its index's condition word for word, which is how SQLite knows a partial
-- index holds every row it asks for; the literals are this version's names of those states
-- and types, fixed with it.
DROP INDEX IF EXISTS provider_events_matched;
CREATE INDEX provider_events_matched ON provider_events (state, at)
    WHERE type IN ('delivered', 'bounced', 'complained');
DROP INDEX IF EXISTS provider_events_recipient;
CREATE INDEX provider_events_recipient ON provider_events (tenant, recipient_key, at)
    WHERE type = 'bounced';
DROP INDEX IF EXISTS provider_events_pending;
CREATE INDEX provider_events_pending ON provider_events (not_before) WHERE state = 'pending';
