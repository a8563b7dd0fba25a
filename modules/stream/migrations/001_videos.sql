CREATE TABLE videos (
    id               TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL,
    owner_username   TEXT NOT NULL,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    visibility       TEXT NOT NULL,
    status           TEXT NOT NULL,
    stage            TEXT NOT NULL DEFAULT '',
    progress         INTEGER NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    notes            TEXT NOT NULL DEFAULT '[]',
    source_key       TEXT NOT NULL DEFAULT '',
    source_name      TEXT NOT NULL DEFAULT '',
    source_size      BIGINT NOT NULL DEFAULT 0,
    generation       INTEGER NOT NULL DEFAULT 1,
    duration_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    width            INTEGER NOT NULL DEFAULT 0,
    height           INTEGER NOT NULL DEFAULT 0,
    fps              DOUBLE PRECISION NOT NULL DEFAULT 0,
    video_codec      TEXT NOT NULL DEFAULT '',
    audio_codec      TEXT NOT NULL DEFAULT '',
    rotation         INTEGER NOT NULL DEFAULT 0,
    media_prefix     TEXT NOT NULL DEFAULT '',
    base_mpd_key     TEXT NOT NULL DEFAULT '',
    tracks           TEXT NOT NULL DEFAULT '[]',
    poster_key       TEXT NOT NULL DEFAULT '',
    storyboard_key   TEXT NOT NULL DEFAULT '',
    mp4_key          TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    ready_at         TIMESTAMP NULL
);
CREATE INDEX videos_listing_idx ON videos (status, visibility, id);
CREATE INDEX videos_owner_idx ON videos (owner_username, id);

CREATE TABLE subtitles (
    video_id   TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    lang       TEXT NOT NULL,
    label      TEXT NOT NULL,
    source     TEXT NOT NULL,
    object_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (video_id, lang)
);
