-- When a process last rendered the manifests of the processing video for a player: publishing waits
-- for players to load the complete lists only when some player is loading them.
ALTER TABLE transcode_runs ADD COLUMN live_served_at TIMESTAMP;
