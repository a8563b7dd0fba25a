package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
)

var defaultKIDRe = regexp.MustCompile(`cenc:default_KID="([0-9a-f-]{36})"`)

// kidOf reads the content key id a protected MPD announces (hex, no dashes).
func kidOf(t *testing.T, mpd []byte) string {
	t.Helper()
	m := defaultKIDRe.FindSubmatch(mpd)
	require.NotNil(t, m, "the MPD announces a key id: %s", mpd)
	return strings.ReplaceAll(string(m[1]), "-", "")
}

// licence asks the licence endpoint for a key id, as a ClearKey CDM does (the body as text).
func (a *testApp) licence(t *testing.T, u, kidHex, token string) response {
	t.Helper()
	raw, err := hex.DecodeString(kidHex)
	require.NoError(t, err)
	body := `{"kids":["` + base64.RawURLEncoding.EncodeToString(raw) + `"],"type":"temporary"}`
	return a.do("POST", strings.TrimPrefix(u, a.URL), body, token, "Content-Type", "text/plain;charset=UTF-8")
}

// storedObject reads an object through the app's own storage configuration.
func (a *testApp) storedObject(t *testing.T, key string) []byte {
	t.Helper()
	rc, _, err := a.storage(t).Get(context.Background(), key, 0, -1)
	require.NoError(t, err, key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// decodesWith runs ffmpeg over an init segment and a media segment joined, with ffmpeg's options
// (such as -decryption_key), and returns how many frames it decoded and what it complained of.
func decodesWith(t *testing.T, init, seg []byte, opts ...string) (int, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "one.mp4")
	require.NoError(t, os.WriteFile(f, append(append([]byte{}, init...), seg...), 0o644))
	cmd := exec.Command("ffmpeg", append(append([]string{"-v", "error"}, opts...), "-i", f, "-f", "framemd5", "-")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n, stderr.String()
}

// TestProtectedPlayback (issue 18): a protected video's segments in storage do not decode without
// its key and decode with it (ffmpeg's -decryption_key); its manifests announce Common Encryption;
// the licence endpoint gives the key only to callers allowed to watch (anyone for a public video,
// the signed token for a private one, never a stranger), never cached; HLS is not offered; the
// download is decrypted and only its owner's; thumbnails and subtitles stay in the clear; and
// changing the protection of a finished video processes it again.
func TestProtectedPlayback(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("keeper")
	v := a.uploadReady(tok, clip(t, "mkv-subs"), map[string]string{"title": "sealed", "protection": "clearkey"})
	require.Equal(t, apiclient.VideoProtectionClearkey, deref(v.Protection))
	require.Empty(t, hlsOf(v), "no HLS for a protected video")
	require.NotEmpty(t, mp4Of(v), "its owner may download it")
	lic := deref(v.Playback.License)
	require.Equal(t, "/api/v1/videos/"+v.Id+"/license", lic)

	anon := a.video(v.Id, "")
	require.Empty(t, mp4Of(*anon), "a viewer gets no download of a protected video")
	require.Equal(t, lic, deref(anon.Playback.License))
	subs := deref(v.Subtitles)
	require.NotEmpty(t, subs)
	require.True(t, strings.HasPrefix(string(a.fetch(t, subs[0].Url)), "WEBVTT"), "subtitles stay in the clear")
	require.Equal(t, []byte{0xff, 0xd8}, a.fetch(t, deref(v.Thumbnails.Poster))[:2], "thumbnails stay in the clear")
	require.Contains(t, string(a.fetch(t, deref(v.Thumbnails.Storyboard))), "WEBVTT")

	mpd := a.fetch(t, dashOf(v))
	require.Contains(t, string(mpd), `value="cenc"`)
	require.Contains(t, string(mpd), `urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e`)
	kid := kidOf(t, mpd)

	// The licence, as a CDM asks for it, for anyone watching a public video.
	r := a.licence(t, lic, kid, "")
	require.Equal(t, 200, r.Status, "%s", r.Body)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	keys := r.JSON(t)["keys"].([]any)
	require.Len(t, keys, 1)
	jwk := keys[0].(map[string]any)
	require.Equal(t, "oct", jwk["kty"])
	rawKID, _ := base64.RawURLEncoding.DecodeString(jwk["kid"].(string))
	require.Equal(t, kid, hex.EncodeToString(rawKID))
	rawKey, err := base64.RawURLEncoding.DecodeString(jwk["k"].(string))
	require.NoError(t, err)
	require.Len(t, rawKey, 16)

	// The segments in storage: useless without the key, whole with it (ffmpeg decrypts them).
	prefix := strings.TrimSuffix(strings.TrimPrefix(dashOf(v), "/media/"), "manifest.mpd")
	stored := a.storedKeys(t, prefix)
	require.Contains(t, stored, prefix+"init-0.m4s")
	require.Contains(t, stored, prefix+"init-1.m4s", "one rung and the audio")
	for _, track := range []string{"0", "1"} {
		init := a.storedObject(t, prefix+"init-"+track+".m4s")
		require.Contains(t, string(init), "tenc")
		require.Contains(t, string(init), map[string]string{"0": "encv", "1": "enca"}[track])
		seg := a.storedObject(t, prefix+"seg-"+track+"-00001.m4s")
		n, complaints := decodesWith(t, init, seg, "-decryption_key", hex.EncodeToString(rawKey))
		require.Positive(t, n, "track %s decodes with the key", track)
		require.Empty(t, complaints, "track %s decodes cleanly with the key", track)
		m, complaints := decodesWith(t, init, seg)
		require.True(t, m == 0 || complaints != "", "track %s does not decode without the key (%d frames, %q)", track, m, complaints)
		wrong := strings.Repeat("ab", 16)
		m, complaints = decodesWith(t, init, seg, "-decryption_key", wrong)
		require.True(t, m == 0 || complaints != "", "track %s does not decode with another key", track)
	}

	// The owner's download is a clear MP4.
	mp4 := a.fetch(t, mp4Of(v))
	f := filepath.Join(t.TempDir(), "download.mp4")
	require.NoError(t, os.WriteFile(f, mp4, 0o644))
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", f, "-f", "null", "-").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, string(out), "the download decodes without a key")

	// Requests the licence endpoint refuses.
	require.Equal(t, 400, a.do("POST", lic, "not json", "").Status)
	r = a.do("POST", lic, `{"kids":["short"]}`, "")
	require.Equal(t, 422, r.Status)
	require.Equal(t, "validation_failed", r.errCode(t))
	r = a.licence(t, lic, strings.Repeat("00", 16), "")
	require.Equal(t, 404, r.Status)
	require.Equal(t, "key_not_found", r.errCode(t))

	// A clear video made private and protected: processed again, its licence only for the owner
	// and whoever holds the token of its playback URLs.
	w := a.uploadReady(tok, clip(t, "mp4"), map[string]string{"title": "clear first", "visibility": "private"})
	require.Equal(t, apiclient.VideoProtectionNone, deref(w.Protection))
	require.Nil(t, w.Playback.License)
	require.NotEmpty(t, hlsOf(w))
	r = a.do("PATCH", "/api/v1/videos/"+w.Id, map[string]any{"protection": "clearkey"}, tok)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	w = a.waitVideo(w.Id, tok, 3*time.Minute)
	require.Equal(t, "ready", string(w.Status), errOf(w))
	require.Equal(t, apiclient.VideoProtectionClearkey, deref(w.Protection))
	wlic := deref(w.Playback.License)
	require.Contains(t, wlic, "?token=", "a private video's licence URL carries its signed token")
	wkid := kidOf(t, a.fetch(t, dashOf(w)))
	require.NotEqual(t, kid, wkid, "every video has its own key")

	stranger := a.token("stranger")
	bare := strings.Split(wlic, "?")[0]
	require.Equal(t, 404, a.licence(t, bare, wkid, stranger).Status, "another user gets nothing")
	require.Equal(t, 404, a.licence(t, bare, wkid, "").Status, "nor does anyone without the token")
	require.Equal(t, 404, a.licence(t, bare+"?token=1.forged", wkid, "").Status)
	require.Equal(t, 200, a.licence(t, bare, wkid, tok).Status, "the owner does")
	require.Equal(t, 200, a.licence(t, bare, wkid, a.admin("keymaster")).Status, "an admin does")
	require.Equal(t, 200, a.licence(t, wlic, wkid, "").Status, "the embed's signed token does")
	require.Equal(t, 404, a.licence(t, bare, kid, tok).Status, "keys are per video: not another video's key")

	r = a.do("PATCH", "/api/v1/videos/"+w.Id, map[string]any{"protection": "sealed"}, tok)
	require.Equal(t, 422, r.Status)
}
