-- Every working process beats here; a running job whose process stopped beating is run again
-- (River's open-source edition has no heartbeats of its own).
CREATE TABLE queue_heartbeats (
    client_id TEXT PRIMARY KEY,
    beat_at   TIMESTAMP NOT NULL
);
