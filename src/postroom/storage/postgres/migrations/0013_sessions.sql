-- Browser sessions of the dev inbox and the dashboard (storage/postgres/sessions.py), shared by
-- every API process on every host. The cookie's token is kept only as its SHA-256; the key is
-- named by id and read through its primary key at each request, so revoking it ends its
-- sessions at once. Rows past expires_at are deleted by the purge. Times are the writer's clock
-- in seconds since the epoch, like every time in this schema.
CREATE TABLE postroom_sessions (
    token_hash text PRIMARY KEY,
    pages text NOT NULL,
    key_id text NOT NULL,
    tenant text NOT NULL,
    created_at double precision NOT NULL,
    expires_at double precision NOT NULL
);
CREATE INDEX postroom_sessions_expiry ON postroom_sessions (expires_at);
