-- Three indexes of postroom_provider_events narrowed to the rows their one reader asks for.
-- Every delivery records Postroom's own `sent` per recipient (matched, with no recipient key),
-- and each index entry is work on the write path a settle waits for (docs/benchmarks.md,
-- "Delivery"): the processor hands out pending events by time (queries.sql pending_events),
-- the dashboard counts delivered, bounced and complained events by state and time
-- (activity.py), and the soft-bounce count reads one recipient's bounces (soft_bounces). A
-- matched or unmatched event leaves the pending index (the counts by state scan the table).
-- Each query repeats its index's condition as literals, so that a plan made for any
-- parameters may use it; they are this version's names of those states and types, fixed with
-- it. Built on the whole table in the migration's transaction: on a large store run
-- `postroom migrate` at a quiet time.
DROP INDEX IF EXISTS postroom_provider_events_matched;
CREATE INDEX postroom_provider_events_matched ON postroom_provider_events (state, at)
    WHERE type IN ('delivered', 'bounced', 'complained');
DROP INDEX IF EXISTS postroom_provider_events_recipient;
CREATE INDEX postroom_provider_events_recipient
    ON postroom_provider_events (tenant, recipient_key, at) WHERE type = 'bounced';
DROP INDEX IF EXISTS postroom_provider_events_pending;
CREATE INDEX postroom_provider_events_pending
    ON postroom_provider_events (not_before, seq) WHERE state = 'pending';
