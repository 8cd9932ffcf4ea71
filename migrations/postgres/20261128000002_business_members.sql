-- The contacts a business's listing held when last read, as a JSON array of
-- {"ghl_id", "baserow_row_id"}: a cold read sends their task and note lists with the listing
-- instead of after it. Only a hint: the listing read alongside decides what the page holds.
CREATE TABLE business_members (
    business_id UUID PRIMARY KEY,   -- the business's gateway id
    members     JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
