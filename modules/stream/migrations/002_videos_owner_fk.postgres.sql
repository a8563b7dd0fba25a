-- No video outlives its owner: account deletion removes the videos first (rows, objects, index
-- entries, jobs), and the database refuses a user row delete while one remains.
ALTER TABLE videos ADD CONSTRAINT videos_owner_fk FOREIGN KEY (owner_id) REFERENCES users (id);
CREATE INDEX videos_owner_id_idx ON videos (owner_id);
