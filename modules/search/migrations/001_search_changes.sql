-- The change log every process's index applies in order: the index of each API process follows
-- it, so several processes on one database stay consistent and no change is lost.
CREATE TABLE search_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX search_changes_created_idx ON search_changes (created_at);
