-- How long each provider call took, in milliseconds (the dashboard's latency p50 and p99),
-- written by the statement that settles the lease. Attempts stored before this have NULL:
-- not measured, and left out of the percentiles. A column without a default changes only the
-- catalog: no table rewrite.
ALTER TABLE postroom_attempts ADD COLUMN duration_ms double precision;
-- The dashboard polls the last hour (and day) every 2 s (storage/postgres/activity.py): each of
-- its time ranges reads one of these instead of scanning its table. Of the events only the
-- settled ones are counted, so only those are indexed (the literals are this version's names
-- of those states, fixed with it). Built on the whole tables in the migration's transaction:
-- on a large store run `postroom migrate` at a quiet time.
CREATE INDEX postroom_attempts_at ON postroom_attempts (at);
CREATE INDEX postroom_emails_created ON postroom_emails (created_at);
CREATE INDEX postroom_events_settled ON postroom_events (at) WHERE state IN ('sent', 'failed');
CREATE INDEX postroom_provider_events_matched ON postroom_provider_events (state, at);
