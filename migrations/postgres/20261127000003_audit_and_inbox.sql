-- The PostgreSQL twin of migrations/sqlite/20261127000003.

-- Every change applied to either system: when, why, what it was before and after.
CREATE TABLE audit (
    id           UUID PRIMARY KEY,        -- UUID v7: sorts by time
    at           TIMESTAMPTZ NOT NULL,
    trigger      TEXT NOT NULL,           -- mutation | webhook | poll | batch
    operation_id UUID,
    entity_id    UUID,
    entity_kind  TEXT NOT NULL,
    system       TEXT NOT NULL,           -- ghl | baserow
    action       TEXT NOT NULL,           -- create | update | delete | conflict | skipped
    before       JSONB,                   -- the mapped fields before, when known
    after        JSONB                    -- the mapped fields after
);
CREATE INDEX audit_by_entity ON audit(entity_id, id);
CREATE INDEX audit_by_time ON audit(at);

-- Webhook and poll events, stored before they are acknowledged and processed from here.
CREATE TABLE inbox (
    id          UUID PRIMARY KEY,
    source      TEXT NOT NULL,            -- ghl | baserow | poll
    event_key   TEXT NOT NULL,            -- GHL webhookId, Baserow event_id: replays are dropped
    payload     JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL,            -- PENDING | DONE | FAILED
    attempts    BIGINT NOT NULL DEFAULT 0,
    lease_until TIMESTAMPTZ,
    error       TEXT,
    UNIQUE (source, event_key)
);
CREATE INDEX inbox_pending ON inbox(status, received_at);

-- What the gateway itself wrote to GHL, so the webhook that echoes it is not taken for news.
CREATE TABLE echo_ledger (
    system      TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    written_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system, record_id, fingerprint)
);

-- Polling watermarks and other small sync state.
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
