-- Provider attempts are events with an outcome class (sent, permanent, misconfigured,
-- throttled, down, unsupported) and the provider's status code; both are '' on other events.
ALTER TABLE postroom_events
    ADD COLUMN outcome text NOT NULL DEFAULT '',
    ADD COLUMN code text NOT NULL DEFAULT '';
