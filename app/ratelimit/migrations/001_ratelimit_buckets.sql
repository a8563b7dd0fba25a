-- On SQLite (one process) buckets live in memory; the table exists so both dialects share a schema.
CREATE TABLE ratelimit_buckets (
    key        TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
