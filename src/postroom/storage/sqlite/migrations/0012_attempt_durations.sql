-- How long each provider call took, in milliseconds (the dashboard's latency p50 and p99),
-- written by the settle that records the attempt. Attempts stored before this have NULL:
-- not measured, and left out of the percentiles.
ALTER TABLE attempts ADD COLUMN duration_ms REAL;
-- The dashboard polls the last hour (and day) every 2 s (storage/sqlite/activity.py): each of
-- its time ranges reads one of these instead of scanning its table. Of the events only the
-- settled ones are counted, so only those are indexed (the literals are this version's names
-- of those states, fixed with it); matched provider events by (state, at), which the planner
-- prefers to provider_events_pending's (state, not_before) for the range.
CREATE INDEX IF NOT EXISTS attempts_at ON attempts (at);
CREATE INDEX IF NOT EXISTS emails_created ON emails (created_at);
CREATE INDEX IF NOT EXISTS events_settled ON events (at) WHERE state IN ('sent', 'failed');
CREATE INDEX IF NOT EXISTS provider_events_matched ON provider_events (state, at);
