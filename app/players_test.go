package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// playersDir is where scripts/deps.sh installed the players we did not write (dash.js, hls.js and
// Shaka Player from npm, pinned in testdata/players).
func playersDir(t testing.TB) string {
	tools := os.Getenv("VOD_TOOLS_DIR")
	if tools == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		tools = filepath.Join(cache, "vod-tools")
	}
	dir := filepath.Join(tools, "players", "node_modules")
	if _, err := os.Stat(filepath.Join(dir, "shaka-player")); err != nil {
		t.Skip("the test players are not installed (scripts/deps.sh test installs them)")
	}
	return dir
}

// watchdogJS measures a video element as a viewer would: when it started playing (half a second
// in), the longest time it stood still while meant to play after that, and whether it ended.
const watchdogJS = `(() => {
  const v = window.__video;
  const s = window.stats = {started: 0, maxStall: 0, stallAt: 0, t: 0, ended: false, errors: []};
  let last = -1, still = 0;
  v.addEventListener('ended', () => { s.ended = true; });
  v.addEventListener('error', () => s.errors.push('media: ' + (v.error && v.error.message)));
  setInterval(() => {
    s.t = v.currentTime;
    // Started: past the player's first half second (its start-up buffering is not a stall).
    if (!s.started && !v.paused && v.currentTime >= 0.5) s.started = Date.now();
    if (!s.started || v.ended || v.paused) { last = v.currentTime; still = performance.now(); return; }
    if (v.currentTime !== last) { last = v.currentTime; still = performance.now(); return; }
    const d = (performance.now() - still) / 1000;
    if (d > s.maxStall) { s.maxStall = d; s.stallAt = v.currentTime; }
  }, 100);
})();`

// playerPage drives one of the players against a manifest, from another origin than the app's.
const playerPage = `<!doctype html><html><body><video id="v" muted playsinline width="640"></video>
<script src="/lib/dashjs/dist/dash.all.min.js"></script>
<script src="/lib/hls.js/dist/hls.min.js"></script>
<script src="/lib/shaka-player/dist/shaka-player.compiled.js"></script>
<script>
const q = new URLSearchParams(location.search), src = q.get('src'), video = document.getElementById('v');
window.__video = video;
window.playerErrors = [];
(async () => {
  try {
    switch (q.get('player')) {
    case 'dash': {
      const p = dashjs.MediaPlayer().create();
      // A processing video's MPD is dynamic: its timeline is the window; start at the beginning.
      p.updateSettings({streaming: {timeShiftBuffer: {calcFromSegmentTimeline: true}}});
      p.on(dashjs.MediaPlayer.events.ERROR, (e) => window.playerErrors.push('dash: ' + JSON.stringify(e.error)));
      p.initialize(video, src, true, 0);
      break;
    }
    case 'hls': {
      const h = new Hls({startPosition: 0});
      h.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) window.playerErrors.push('hls: ' + d.details); });
      h.loadSource(src);
      h.attachMedia(video);
      h.on(Hls.Events.MANIFEST_PARSED, () => video.play());
      break;
    }
    case 'shaka': {
      shaka.polyfill.installAll();
      const p = new shaka.Player();
      p.addEventListener('error', (e) => window.playerErrors.push('shaka: ' + e.detail.code));
      await p.attach(video);
      await p.load(src, 0);
      await video.play();
      break;
    }
    }
  } catch (e) { window.playerErrors.push(String(e && (e.code || e.message) || e)); }
})();
</script></body></html>`

// playerServer serves the players and the page that drives them.
func playerServer(t *testing.T) string {
	dir := playersDir(t)
	mux := http.NewServeMux()
	mux.Handle("/lib/", http.StripPrefix("/lib/", http.FileServer(http.Dir(dir))))
	mux.HandleFunc("/play.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(playerPage))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

type playStats struct {
	Started  float64  `json:"started"`
	MaxStall float64  `json:"maxStall"`
	StallAt  float64  `json:"stallAt"`
	T        float64  `json:"t"`
	Ended    bool     `json:"ended"`
	Errors   []string `json:"errors"`
}

func readStats(ctx context.Context) (playStats, []string, error) {
	var raw string
	var st playStats
	err := chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify({s: window.stats || null, e: (window.playerErrors || []).concat(window.vodErrors || [])})`, &raw))
	if err != nil {
		return st, nil, err
	}
	var out struct {
		S *playStats `json:"s"`
		E []string   `json:"e"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return st, nil, err
	}
	if out.S != nil {
		st = *out.S
	}
	return st, out.E, nil
}

// TestWatchWhileProcessing (issue 14): a video of several chunks (60 s, 2 s segments, 8 s chunks) is watched from seconds after its
// upload, while it still processes, in the bundled page (opened before the video is playable) and
// directly in dash.js, hls.js and Shaka Player: playback starts while the status is processing,
// goes past what was available when it started, through the switch to the final manifests, to the
// end, never standing still longer than a segment, without a reload.
//
// Not parallel: it plays in real time against an encode that must stay ahead of it, which other
// tests' encodes on the same two cores would slow down.
func TestWatchWhileProcessing(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a video in real time in Chromium")
	}
	players := playerServer(t)
	a := setup(t, map[string]string{"VOD_TRANSCODE_CHUNK_SECONDS": "8", "VOD_TRANSCODE_SEGMENT_SECONDS": "2"})
	const segment = 2.0
	ctx, shot := ownBrowser(t)
	// The players' browsers start before the upload: starting a browser costs seconds of CPU that
	// the encode of a video being watched should not compete with.
	viewers := map[string]context.Context{}
	for _, p := range []string{"dash", "hls", "shaka"} {
		viewers[p], _ = ownBrowser(t)
	}
	src := clip(t, "live-short")
	tok := a.token("early")

	// The bundled page is open before the video can be watched at all.
	r := a.upload(tok, src, map[string]string{"title": "Early bird"})
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])
	uploaded := time.Now()
	step(t, ctx, shot, "open-watch-page", chromedp.Navigate(a.URL+"/watch/"+id), chromedp.WaitVisible(`[data-testid=video]`))

	// Playable: still processing, with playback URLs and how far it can be watched.
	var v map[string]any
	require.Eventually(t, func() bool {
		v = a.do("GET", "/api/v1/videos/"+id, nil, tok).JSON(t)["video"].(map[string]any)
		return v["available_seconds"].(float64) > 0 || v["status"] == "ready"
	}, 60*time.Second, 50*time.Millisecond)
	playable := time.Since(uploaded)
	require.Equal(t, "processing", v["status"], "playable before it is ready: %v", v)
	availableAtStart := v["available_seconds"].(float64)
	require.Less(t, availableAtStart, v["duration_seconds"].(float64))
	pb := v["playback"].(map[string]any)
	dash, hls := str(pb["dash"]), str(pb["hls"])
	require.NotEmpty(t, dash)
	require.NotEmpty(t, hls)
	t.Logf("playable %.1fs after the upload, %.0fs of %.0fs available", playable.Seconds(), availableAtStart, v["duration_seconds"])

	// The manifests of a processing video list what exists, grow, and are never cached.
	res, err := http.Get(a.URL + hls)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
	media := readHLS(t, a.fetch(t, strings.Replace(hls, "master.m3u8", "media_0.m3u8", 1)))
	if !strings.Contains(media.text, "#EXT-X-ENDLIST") {
		require.Contains(t, media.text, "#EXT-X-PLAYLIST-TYPE:EVENT")
	}
	base := a.URL + hls[:strings.LastIndex(hls, "/")+1]
	for _, s := range media.segments {
		a.fetch(t, base+s)
	}
	mpd := string(a.fetch(t, dash))
	if !strings.Contains(mpd, "mediaPresentationDuration") {
		require.Contains(t, mpd, `type="dynamic"`)
	}

	// Four viewers at once: the bundled page (already open) and the three players, each in a browser
	// of its own (a background tab's media would wait until it is shown).
	tabs := map[string]context.Context{"bundled": ctx}
	for _, p := range []string{"dash", "hls", "shaka"} {
		tctx := viewers[p]
		u := a.URL + dash
		if p == "hls" {
			u = a.URL + hls
		}
		require.NoError(t, chromedp.Run(tctx, chromedp.Navigate(players+"/play.html?player="+p+"&src="+u)))
		require.NoError(t, chromedp.Run(tctx, chromedp.Evaluate(watchdogJS, nil)))
		tabs[p] = tctx
	}
	step(t, ctx, shot, "bundled-player", waitJS(`!!window.vodPlayer`, 30*time.Second),
		chromedp.Evaluate(`window.__video = window.vodPlayer.video;`+watchdogJS, nil))

	duration := v["duration_seconds"].(float64)
	readyAt := time.Time{}
	started := map[string]time.Time{}
	deadline := time.Now().Add(time.Duration(duration)*time.Second + 90*time.Second)
	done := map[string]playStats{}
	for len(done) < len(tabs) && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if readyAt.IsZero() {
			cur := a.do("GET", "/api/v1/videos/"+id, nil, tok).JSON(t)["video"].(map[string]any)
			if cur["status"] == "ready" {
				readyAt = time.Now()
			}
		}
		for name, tctx := range tabs {
			if _, ok := done[name]; ok {
				continue
			}
			st, errs, err := readStats(tctx)
			require.NoError(t, err)
			require.Empty(t, errs, "%s: player errors", name)
			if st.Started > 0 && started[name].IsZero() {
				started[name] = time.UnixMilli(int64(st.Started))
			}
			if st.Ended || st.T >= duration-0.5 {
				done[name] = st
			}
		}
	}
	for name := range tabs {
		if _, ok := done[name]; !ok {
			st, _, _ := readStats(tabs[name])
			var dbg string
			_ = chromedp.Run(tabs[name], chromedp.Evaluate(`JSON.stringify({notice: document.querySelector('[data-testid=processing]')?.textContent, rs: window.__video && window.__video.readyState, paused: window.__video && window.__video.paused, t: window.__video && window.__video.currentTime, buf: window.__video && [...Array(window.__video.buffered.length).keys()].map(i => [window.__video.buffered.start(i), window.__video.buffered.end(i)])})`, &dbg))
			t.Errorf("%s did not play to the end: %+v %s", name, st, dbg)
		}
	}
	for name := range tabs {
		st, ok := done[name]
		if !ok {
			continue
		}
		require.False(t, started[name].IsZero(), name)
		require.False(t, readyAt.IsZero(), "the video became ready")
		require.True(t, started[name].Before(readyAt), "%s started playing while the video was processing (started %s, ready %s)", name, started[name], readyAt)
		require.Greater(t, st.T, availableAtStart+segment, "%s played past what was available when it started", name)
		t.Logf("%s: started %.1fs after the upload, ready after %.1fs, longest stall %.2fs", name,
			started[name].Sub(uploaded).Seconds(), readyAt.Sub(uploaded).Seconds(), st.MaxStall)
		// A player at the edge of what exists learns of the next chunk at its next MPD reload
		// (minimumUpdatePeriod = one segment), then fetches and appends it: one segment plus a
		// request is what waiting for the encoder may cost; a stall at a boundary that exists is
		// longer than that.
		require.LessOrEqual(t, st.MaxStall, segment+1, "%s stood still %.1fs at %.1fs", name, st.MaxStall, st.StallAt)
	}
	// Ready: the same addresses now serve the final manifests.
	final := readHLS(t, a.fetch(t, strings.Replace(hls, "master.m3u8", "media_0.m3u8", 1)))
	require.Contains(t, final.text, "#EXT-X-PLAYLIST-TYPE:VOD")
	require.Contains(t, final.text, "#EXT-X-ENDLIST")
	require.Contains(t, string(a.fetch(t, dash)), `type="static"`)
}
