-- Token buckets shared by every API process of a PostgreSQL deployment.
CREATE UNLOGGED TABLE ratelimit_buckets (
    key        TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
