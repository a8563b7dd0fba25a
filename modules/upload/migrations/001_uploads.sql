CREATE TABLE uploads (
    id           TEXT PRIMARY KEY,
    video_id     TEXT NOT NULL,
    owner_id     TEXT NOT NULL,
    object_key   TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    filename     TEXT NOT NULL,
    status       TEXT NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX uploads_pending_idx ON uploads (status, expires_at);
