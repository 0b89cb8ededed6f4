-- Provider circuits shared by every worker (services/shared_health.py): one row per provider
-- name, written when a worker's circuit changes state and read by every worker twice a second.
-- A write replaces the row only when its updated_at is newer, so the newest change wins.
-- Times are the writer's clock in seconds since the epoch, like every time in this schema.
CREATE TABLE postroom_provider_health (
    provider text PRIMARY KEY,
    state text NOT NULL,
    failures integer NOT NULL,
    until double precision NOT NULL,
    updated_at double precision NOT NULL
);
