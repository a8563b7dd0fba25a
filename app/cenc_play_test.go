package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"vod/modules/transcode/cmaf"
)

// cencTrack encodes a fragmented MP4 with ffmpeg, encrypts it with cmaf, writes its init segment
// and media segments into dir, and returns the MPD Representation's SegmentTemplate and codecs.
func cencTrack(t *testing.T, dir, name string, k cmaf.Key, nalLen int, args ...string) (string, string) {
	t.Helper()
	clear := filepath.Join(dir, name+"-clear.mp4")
	ffmpegRun(t, append(args, "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-use_editlist", "0", clear)...)
	raw, err := os.ReadFile(clear)
	require.NoError(t, err)
	f, err := cmaf.Parse(raw)
	require.NoError(t, err)
	codecs, err := cmaf.Codecs(f.Init)
	require.NoError(t, err)
	init, err := cmaf.EncryptInit(f.Init, k)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "init-"+name+".mp4"), init, 0o644))
	var tl strings.Builder
	first := uint64(0)
	for i, s := range f.Segments {
		e, err := cmaf.EncryptSegment(s, k, uint64(len(name))<<48, first, nalLen)
		require.NoError(t, err)
		first += uint64(s.Samples)
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.m4s", name, i+1)), e.Data, 0o644))
		fmt.Fprintf(&tl, `<S t="%d" d="%d"/>`, s.DecodeTime, s.Duration)
	}
	return fmt.Sprintf(`<SegmentTemplate timescale="%d" initialization="init-%s.mp4" media="%s-$Number$.m4s" startNumber="1"><SegmentTimeline>%s</SegmentTimeline></SegmentTemplate>`,
		f.Timescale, name, name, tl.String()), codecs
}

// TestCENCPlaysInPlayers (issue 18, groundwork): segments encrypted by cmaf (cenc, AES-CTR) play in
// Chromium's ClearKey CDM through Shaka Player and dash.js, clients we did not write, with the key;
// with a wrong key they do not.
func TestCENCPlaysInPlayers(t *testing.T) {
	// The subject is the encrypted bytes, the same whatever stores them; TestBrowserProtected plays
	// protected video from each backend's storage.
	backendNeutral(t)
	if testing.Short() {
		t.Skip("plays in Chromium")
	}
	t.Parallel()
	libs := playersDir(t)
	dir := t.TempDir()
	var k cmaf.Key
	copy(k.ID[:], "0123456789abcdef")
	copy(k.Key[:], "fedcba9876543210")
	video, vcodecs := cencTrack(t, dir, "v", k, 4, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=6",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-bf", "0")
	audio, acodecs := cencTrack(t, dir, "a", k, 0, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6",
		"-c:a", "aac", "-frag_duration", "1000000")
	kid := hex.EncodeToString(k.ID[:])
	uuid := kid[:8] + "-" + kid[8:12] + "-" + kid[12:16] + "-" + kid[16:20] + "-" + kid[20:]
	protection := fmt.Sprintf(`<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc" cenc:default_KID="%s"/>`+
		`<ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" value="ClearKey1.0"/>`, uuid)
	mpd := fmt.Sprintf(`<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013" type="static" mediaPresentationDuration="PT6S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
<Period>
<AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true">%s<Representation id="v" codecs="%s" bandwidth="300000" width="320" height="180">%s</Representation></AdaptationSet>
<AdaptationSet contentType="audio" mimeType="audio/mp4" lang="en">%s<Representation id="a" codecs="%s" bandwidth="64000" audioSamplingRate="48000">%s</Representation></AdaptationSet>
</Period></MPD>`, protection, vcodecs, video, protection, acodecs, audio)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.mpd"), []byte(mpd), 0o644))
	mux := http.NewServeMux()
	mux.Handle("/lib/", http.StripPrefix("/lib/", http.FileServer(http.Dir(libs))))
	mux.Handle("/media/", http.StripPrefix("/media/", http.FileServer(http.Dir(dir))))
	mux.HandleFunc("/play.html", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><html><body><video id="v" muted playsinline width="320"></video>
<script src="/lib/dashjs/dist/dash.all.min.js"></script>
<script src="/lib/shaka-player/dist/shaka-player.compiled.js"></script>
<script>
const q = new URLSearchParams(location.search), video = document.getElementById('v');
window.errs = [];
video.addEventListener('error', () => window.errs.push('media: ' + (video.error && video.error.message)));
(async () => { try {
  const kid = q.get('kid'), key = q.get('key');
  const b64 = (h) => btoa(String.fromCharCode(...h.match(/../g).map((x) => parseInt(x, 16)))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  if (q.get('player') === 'shaka') {
    shaka.polyfill.installAll();
    const p = new shaka.Player();
    p.addEventListener('error', (e) => window.errs.push('shaka: ' + e.detail.code));
    p.configure({drm: {clearKeys: {[kid]: key}}});
    await p.attach(video);
    await p.load('/media/manifest.mpd');
  } else {
    const p = dashjs.MediaPlayer().create();
    p.on(dashjs.MediaPlayer.events.ERROR, (e) => window.errs.push('dash: ' + JSON.stringify(e.error)));
    p.setProtectionData({'org.w3.clearkey': {clearkeys: {[b64(kid)]: b64(key)}}});
    // Autoplay: a play() before dash.js attaches its source is aborted by the load it starts.
    p.initialize(video, '/media/manifest.mpd', true);
    return;
  }
  await video.play();
} catch (e) { window.errs.push(String(e && (e.code || e.message) || e)); } })();
</script></body></html>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx, shot := browser(t)
	for _, player := range []string{"shaka", "dash"} {
		var frames float64
		var errs []string
		step(t, ctx, shot, player,
			chromedp.Navigate(fmt.Sprintf("%s/play.html?player=%s&kid=%s&key=%s", srv.URL, player, kid, hex.EncodeToString(k.Key[:]))),
			waitJS(`window.errs.length > 0 || document.getElementById('v').currentTime > 4`, time.Minute),
			chromedp.Evaluate(`window.errs`, &errs),
			chromedp.Evaluate(`document.getElementById('v').getVideoPlaybackQuality().totalVideoFrames`, &frames))
		require.Empty(t, errs, player)
		require.Greater(t, frames, 50.0, "%s decoded the pictures", player)

		// A wrong key: the CDM decrypts garbage, which does not play through.
		var ok bool
		sctx, cancel := context.WithTimeout(ctx, 40*time.Second)
		err := chromedp.Run(sctx,
			chromedp.Navigate(fmt.Sprintf("%s/play.html?player=%s&kid=%s&key=%s", srv.URL, player, kid, hex.EncodeToString([]byte("not the real key")))),
			chromedp.Sleep(8*time.Second),
			chromedp.Evaluate(`window.errs.length > 0 || document.getElementById('v').currentTime < 4`, &ok))
		cancel()
		require.NoError(t, err)
		require.True(t, ok, "%s: a wrong key must not play", player)
	}
}
