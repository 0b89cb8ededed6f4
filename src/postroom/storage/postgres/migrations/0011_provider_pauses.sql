-- Providers an operator paused (storage/postgres/pauses.py): one row per paused provider name,
-- deleted on resume. Every worker reads it twice a second (services/pauses.py). Times are the
-- writer's clock in seconds since the epoch, like every time in this schema.
CREATE TABLE postroom_provider_pauses (
    provider text PRIMARY KEY,
    paused_at double precision NOT NULL
);
