-- The PostgreSQL twin of migrations/sqlite/20261127000001: the same tables in native types.

-- Identity: one row per entity the gateway knows, linking its GHL id and its Baserow row id.
CREATE TABLE links (
    id             UUID PRIMARY KEY,          -- gateway id (UUID v7, so ids sort by creation)
    kind           TEXT NOT NULL,             -- contact | task | note | business
    ghl_id         TEXT,
    baserow_row_id BIGINT,
    parent_id      UUID REFERENCES links(id), -- a task's or note's contact
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX links_by_ghl_id ON links(kind, ghl_id) WHERE ghl_id IS NOT NULL;
CREATE UNIQUE INDEX links_by_baserow_row_id ON links(kind, baserow_row_id) WHERE baserow_row_id IS NOT NULL;
CREATE INDEX links_by_parent ON links(parent_id);

-- Each mutation, recorded before its first upstream write, with each side's outcome.
CREATE TABLE operations (
    id              UUID PRIMARY KEY,
    kind            TEXT NOT NULL,            -- e.g. createContact
    entity_id       UUID,                     -- gateway id of the entity it writes
    input           JSONB NOT NULL,           -- the validated input
    status          TEXT NOT NULL,            -- PENDING | SUCCEEDED | FAILED | COMPENSATED
    ghl_outcome     TEXT NOT NULL,            -- PENDING | SUCCEEDED | FAILED
    ghl_error       TEXT,
    baserow_outcome TEXT NOT NULL,
    baserow_error   TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX operations_by_status ON operations(status, created_at);
