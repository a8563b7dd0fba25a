CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY,
    endpoint     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    video_id     TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    status_code  INTEGER NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    delivered_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_video_idx ON webhook_deliveries (video_id);
