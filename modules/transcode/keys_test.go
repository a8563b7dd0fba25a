package transcode

import (
	"testing"

	"github.com/stretchr/testify/require"

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
