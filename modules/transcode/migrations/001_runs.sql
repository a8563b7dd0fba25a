-- One row per encode of a video generation: how many of its parts are still to finish. The
-- transaction that finishes the last part inserts the finish job (the fan-in).
CREATE TABLE transcode_runs (
    video_id   TEXT NOT NULL,
    generation INTEGER NOT NULL,
    parts      INTEGER NOT NULL,
    pending    INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (video_id, generation)
);

-- One row per part (a video chunk, the audio, the assets): done once, with what it produced.
CREATE TABLE transcode_parts (
    video_id    TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    part        TEXT NOT NULL,
    done        BOOLEAN NOT NULL DEFAULT FALSE,
    result      TEXT NOT NULL DEFAULT '{}',
    cpu_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    runs        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (video_id, generation, part)
);
