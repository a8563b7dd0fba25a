package transcode

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"vod/app/db"
	"vod/app/testenv"
	"vod/app/vodtype"
	"vod/modules/transcode/cmaf"
)

// TestKeyWrapping: a content key is stored only wrapped, opens with the server's key for the row it
// was made for, and not for another video or generation (a row copied elsewhere) nor under another
// server key.
func TestKeyWrapping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := cmaf.Key{ID: [16]byte{1, 2, 3}, Key: [16]byte{9, 8, 7}}
	row := keyRow{VideoID: "v1", Generation: 2, KID: "01020300000000000000000000000000", Wrapped: b.svc.wrap("v1", 2, k)}
	require.NotContains(t, row.Wrapped, string(k.Key[:3]))
	got, err := b.svc.unwrap(row)
	require.NoError(t, err)
	require.Equal(t, k, got)

	moved := row
	moved.VideoID = "v2"
	_, err = b.svc.unwrap(moved)
	require.ErrorIs(t, err, errKeyUnwrap, "bound to its video")
	moved = row
	moved.Generation = 3
	_, err = b.svc.unwrap(moved)
	require.ErrorIs(t, err, errKeyUnwrap, "bound to its generation")

	other := setup(t)
	other.svc.cfg.KeyEncryptionKey = []byte("another server's key")
	_, err = other.svc.unwrap(row)
	require.ErrorIs(t, err, errKeyUnwrap, "only the server's key opens it")

	// Tracks share the key, never an IV range.
	a, v := newTrackCrypt(k, "0"), newTrackCrypt(k, "1")
	require.NotEqual(t, a.ivBase, v.ivBase)
	require.Equal(t, a.ivBase, newTrackCrypt(k, "0").ivBase, "the same on every worker and retry")
}

// TestContentKeys: the probe's key is made once per generation (a probe that runs again keeps it),
// the licence finds keys by id within their video only, publishing drops older generations' keys,
// and the sweep drops the keys of deleted videos.
func TestContentKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.svc.db = testenv.ModuleDB(t, "transcode", Migrations())
	b.catalog.videos["v1"] = vodtype.PipelineVideo{ID: "v1", Generation: 2}
	mk := func(video string, gen int) string {
		var kid string
		require.NoError(t, b.svc.db.WithTx(ctx, func(tx *db.Tx) error {
			var err error
			kid, err = b.svc.ensureKeyTx(ctx, tx, video, gen)
			return err
		}))
		return kid
	}
	k1 := mk("v1", 1)
	require.Equal(t, k1, mk("v1", 1), "a probe that runs again keeps the key")
	k2 := mk("v1", 2)
	require.NotEqual(t, k1, k2, "every generation its own key")
	other := mk("gone", 1)

	id := func(kid string) [16]byte {
		var out [16]byte
		raw, err := hex.DecodeString(kid)
		require.NoError(t, err)
		copy(out[:], raw)
		return out
	}
	keys, err := b.svc.ContentKeys(ctx, "v1", [][16]byte{id(k1), id(k2), id(other)})
	require.NoError(t, err)
	require.Len(t, keys, 2, "both generations of v1, not another video's key")
	key, err := b.svc.contentKey(ctx, "v1", 2, k2)
	require.NoError(t, err)
	require.Contains(t, []vodtype.ContentKey{keys[0], keys[1]}, vodtype.ContentKey{ID: key.ID, Key: key.Key})
	_, err = b.svc.contentKey(ctx, "v1", 2, k1)
	require.Error(t, err, "a job whose key id does not match gets no key")

	require.NoError(t, b.svc.db.WithTx(ctx, func(tx *db.Tx) error { return b.svc.forgetKeysTx(ctx, tx, "v1", 2) }))
	keys, err = b.svc.ContentKeys(ctx, "v1", [][16]byte{id(k1), id(k2)})
	require.NoError(t, err)
	require.Len(t, keys, 1, "published generation 2: generation 1's key is gone")

	require.NoError(t, b.svc.sweepKeys(ctx))
	keys, err = b.svc.ContentKeys(ctx, "gone", [][16]byte{id(other)})
	require.NoError(t, err)
	require.Empty(t, keys, "a deleted video's key is swept")
	keys, err = b.svc.ContentKeys(ctx, "v1", [][16]byte{id(k2)})
	require.NoError(t, err)
	require.Len(t, keys, 1, "a live video's key stays")
}
