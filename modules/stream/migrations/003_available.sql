-- How far a video still processing can be watched (issue 14); its duration once ready.
ALTER TABLE videos ADD COLUMN available_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
