-- Watching while processing: how far the run is playable (the end of the finished chunks from the
-- start, and of the audio stored so far), and what the manifests of a processing video need to
-- describe its rungs.
ALTER TABLE transcode_runs ADD COLUMN available DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE transcode_runs ADD COLUMN renditions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE transcode_runs ADD COLUMN duration DOUBLE PRECISION NOT NULL DEFAULT 0;
