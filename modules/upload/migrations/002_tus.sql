-- Resumable (tus) uploads: what has been received survives a restart and is shared by every API
-- process. received is the tus offset; parts and tail_size say where those bytes are on S3 (stored
-- parts, then a tail object shorter than a part); a local directory writes one staging file.
CREATE TABLE tus_uploads (
    id           TEXT PRIMARY KEY,
    video_id     TEXT NOT NULL,
    owner_id     TEXT NOT NULL,
    object_key   TEXT NOT NULL,
    length       BIGINT NOT NULL,
    received     BIGINT NOT NULL,
    metadata     TEXT NOT NULL,
    multipart_id TEXT NOT NULL,
    parts        TEXT NOT NULL,
    tail_size    BIGINT NOT NULL,
    status       TEXT NOT NULL,
    lock_token   TEXT NOT NULL,
    locked_until TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX tus_uploads_expiry_idx ON tus_uploads (status, expires_at);
