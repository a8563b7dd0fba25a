-- Content keys of protected videos (issue 18): one random AES-128 key per video and generation,
-- made at probe time and kept only wrapped (AES-256-GCM under transcode.key_encryption_key, bound
-- to the video, generation and key id). The licence endpoint finds keys by the ids a player asks for.
CREATE TABLE transcode_keys (
    video_id   TEXT NOT NULL,
    generation INTEGER NOT NULL,
    kid        TEXT NOT NULL,
    wrapped    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (video_id, generation)
);
CREATE INDEX transcode_keys_kid_idx ON transcode_keys (video_id, kid);
-- The key id of a protected run, for the manifests of the video while it processes.
ALTER TABLE transcode_runs ADD COLUMN kid TEXT NOT NULL DEFAULT '';
