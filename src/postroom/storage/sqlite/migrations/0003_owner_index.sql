-- Daily quotas count a key's emails of the day.
CREATE INDEX IF NOT EXISTS emails_owner ON emails (owner, created_at);
