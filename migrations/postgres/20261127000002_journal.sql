-- The operation journal grows what a resumable, idempotent executor needs.
ALTER TABLE operations ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
-- When the worker may try the operation again; NULL when it is finished.
ALTER TABLE operations ADD COLUMN next_attempt_at TIMESTAMPTZ;
-- A worker holds an operation until this time while it executes it.
ALTER TABLE operations ADD COLUMN lease_until TIMESTAMPTZ;
-- What started it: mutation, webhook, poll, batch.
ALTER TABLE operations ADD COLUMN trigger TEXT NOT NULL DEFAULT 'mutation';

CREATE INDEX operations_due ON operations(status, next_attempt_at);
-- Reads ask which entities still have a pending write (pending_entities); only PENDING rows matter.
CREATE INDEX operations_pending_by_entity ON operations(entity_id) WHERE status = 'PENDING';

-- Idempotency keys from scripts: the same key and input returns the first result.
CREATE TABLE idempotency_keys (
    key          TEXT NOT NULL,
    subject      TEXT NOT NULL,           -- the token's subject: keys are per client
    request_hash TEXT NOT NULL,           -- SHA-256 of the mutation name and its input
    operation_id UUID NOT NULL REFERENCES operations(id),
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subject, key)
);
