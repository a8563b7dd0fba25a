-- No video outlives its owner. SQLite cannot add a constraint to an existing table without
-- rebuilding it (and the rebuild needs foreign keys off, which cannot change inside the migration's
-- transaction), so the same rule is enforced by triggers.
CREATE TRIGGER videos_owner_fk_insert BEFORE INSERT ON videos
WHEN NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.owner_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: videos.owner_id'); END;

CREATE TRIGGER videos_owner_fk_update BEFORE UPDATE OF owner_id ON videos
WHEN NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.owner_id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: videos.owner_id'); END;

CREATE TRIGGER users_videos_fk_delete BEFORE DELETE ON users
WHEN EXISTS (SELECT 1 FROM videos WHERE owner_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: videos.owner_id'); END;

CREATE INDEX videos_owner_id_idx ON videos (owner_id);
