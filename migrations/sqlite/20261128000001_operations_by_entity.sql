-- An entity's operations in order: the superseded-update check and the take-over of read-made
-- links ask for them on every write.
CREATE INDEX operations_by_entity ON operations(entity_id, id);
