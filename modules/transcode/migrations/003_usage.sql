-- The largest resident set (bytes) of a part's ffmpeg runs, summed up per video at the finish as the
-- maximum: what a video really cost in memory, beside its CPU seconds (issue 19).
ALTER TABLE transcode_parts ADD COLUMN peak_rss BIGINT NOT NULL DEFAULT 0;
