-- Tenants' email templates (docs/templates.md): one row per template, one per version.

-- latest: the newest version (the draft until published); current: the published one, NULL
-- before the first publish. id is kept by every version and changes when a name is reused.
CREATE TABLE IF NOT EXISTS templates (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    latest INTEGER NOT NULL,
    current INTEGER,
    PRIMARY KEY (tenant, name)
);

-- A version is written once and never changed; definition is the service's JSON.
CREATE TABLE IF NOT EXISTS template_versions (
    template_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (template_id, version)
);
