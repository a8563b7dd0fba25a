-- View counts (issue 16): the count on the video, and who was counted today so that a viewer counts
-- once per video per day. A viewer is a hash under a salt that lives one day and is then deleted, so
-- the rows say nothing about anyone once the day is over (no address or user id is stored).
ALTER TABLE videos ADD COLUMN views BIGINT NOT NULL DEFAULT 0;
CREATE INDEX videos_views_idx ON videos (views, id);
CREATE TABLE video_views (
    video_id TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    day      TEXT NOT NULL,
    viewer   TEXT NOT NULL,
    PRIMARY KEY (video_id, day, viewer)
);
CREATE TABLE view_salts (
    day  TEXT PRIMARY KEY,
    salt TEXT NOT NULL
);
-- A thumbnail chosen by the owner, kept across reprocessing (the generated one stays in poster_key).
ALTER TABLE videos ADD COLUMN custom_poster_key TEXT NOT NULL DEFAULT '';
