-- The operation journal grows what a resumable, idempotent executor needs.
ALTER TABLE operations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- When the worker may try the operation again (RFC 3339); NULL when it is finished.
ALTER TABLE operations ADD COLUMN next_attempt_at TEXT;
-- A worker holds an operation until this time while it executes it.
ALTER TABLE operations ADD COLUMN lease_until TEXT;
-- What started it: mutation, webhook, poll, batch.
ALTER TABLE operations ADD COLUMN trigger TEXT NOT NULL DEFAULT 'mutation';

CREATE INDEX operations_due ON operations(status, next_attempt_at);

-- Idempotency keys from scripts: the same key and input returns the first result.
CREATE TABLE idempotency_keys (
    key          TEXT NOT NULL,
    subject      TEXT NOT NULL,           -- the token's subject: keys are per client
    request_hash TEXT NOT NULL,           -- SHA-256 of the mutation name and its input
    operation_id TEXT NOT NULL REFERENCES operations(id),
    created_at   TEXT NOT NULL,
    PRIMARY KEY (subject, key)
);
