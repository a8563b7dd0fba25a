-- Protected playback (issue 18): whether a video's segments are encrypted (Common Encryption,
-- keys from the ClearKey licence endpoint). Videos from before stay in the clear.
ALTER TABLE videos ADD COLUMN protection TEXT NOT NULL DEFAULT 'none';
