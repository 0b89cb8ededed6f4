-- Tenants' email templates (docs/templates.md): one row per template, one per version.

-- latest: the newest version (the draft until published); current: the published one, NULL
-- before the first publish. id is kept by every version and changes when a name is reused.
CREATE TABLE postroom_templates (
    tenant text NOT NULL,
    name text COLLATE "C" NOT NULL,
    id text NOT NULL UNIQUE,
    latest integer NOT NULL,
    current integer,
    PRIMARY KEY (tenant, name)
);

-- A version is written once and never changed; definition is the service's JSON.
CREATE TABLE postroom_template_versions (
    template_id text NOT NULL,
    version integer NOT NULL,
    definition text NOT NULL,
    created_at double precision NOT NULL,
    PRIMARY KEY (template_id, version)
);
