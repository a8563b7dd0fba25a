package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// staticReloadPage plays ?src= (a static MPD) with dash.js and reloads it every ?every= ms with
// refreshManifest: the "short-lived static MPD the player reloads" way of watching a video that
// is still processing.
const staticReloadPage = `<!doctype html><html><body><video id="v" muted playsinline width="640"></video>
<script src="/lib/dashjs/dist/dash.all.min.js"></script>
<script>
const q = new URLSearchParams(location.search), video = document.getElementById('v');
window.__video = video;
window.playerErrors = [];
window.durations = [];
const p = dashjs.MediaPlayer().create();
p.on(dashjs.MediaPlayer.events.ERROR, (e) => window.playerErrors.push('dash: ' + JSON.stringify(e.error)));
p.initialize(video, q.get('src'), true, 0);
setInterval(() => p.refreshManifest(() => {
  if (!window.durations.length || window.durations[window.durations.length - 1] !== video.duration) window.durations.push(video.duration);
}), Number(q.get('every')));
</script></body></html>`

var dynamicAttrRe = regexp.MustCompile(` (type|availabilityStartTime|publishTime|minimumUpdatePeriod)="[^"]*"`)
var utcTimingRe = regexp.MustCompile(`\s*<UTCTiming[^>]*/>`)

// BenchmarkManifestChoice (issue 14): the two ways to let DASH players watch a video that is still
// processing, measured side by side on one video in one run: the dynamic MPD with a SegmentTimeline
// that the server renders (what vod does), and a static MPD listing what exists, which the page
// reloads every second with dash.js's refreshManifest. Each viewer is dash.js in its own Chromium,
// starting as soon as the video is playable; reported: whether it plays to the end, where it
// stopped, the longest stall, and the media element's durations over time.
func BenchmarkManifestChoice(b *testing.B) {
	a := start(b, func() map[string]string {
		env := testEnv(b)
		env["VOD_TRANSCODE_CHUNK_SECONDS"], env["VOD_TRANSCODE_SEGMENT_SECONDS"] = "8", "2"
		return env
	}())
	tok := a.token("chooser")
	var id, dash string
	var duration float64
	// The static variant: the live MPD as it is now, made static with the duration available now.
	proxy := http.NewServeMux()
	proxy.Handle("/lib/", http.StripPrefix("/lib/", http.FileServer(http.Dir(playersDir(b)))))
	proxy.HandleFunc("/play.html", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, playerPage) })
	proxy.HandleFunc("/static.html", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, staticReloadPage) })
	proxy.HandleFunc("/static.mpd", func(w http.ResponseWriter, _ *http.Request) {
		res, err := http.Get(a.URL + dash)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		mpd := string(raw)
		if strings.Contains(mpd, `type="dynamic"`) {
			v := a.video(id, tok)
			mpd = utcTimingRe.ReplaceAllString(dynamicAttrRe.ReplaceAllString(mpd, ""), "")
			attrs := ` type="static"`
			if !strings.Contains(mpd, "mediaPresentationDuration") {
				attrs += fmt.Sprintf(` mediaPresentationDuration="PT%.3fS"`, deref(v.AvailableSeconds))
			}
			mpd = strings.Replace(mpd, "<MPD ", "<MPD"+attrs+" ", 1)
		}
		base := a.URL + dash[:strings.LastIndex(dash, "/")+1]
		mpd = strings.Replace(mpd, "<Period", "<BaseURL>"+base+"</BaseURL>\n\t<Period", 1)
		w.Header().Set("Content-Type", "application/dash+xml")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		fmt.Fprint(w, mpd)
	})
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	dynamicCtx, _ := ownBrowser(b)
	staticCtx, _ := ownBrowser(b)
	viewers := map[string]struct {
		ctx context.Context
		u   func() string
	}{
		"dynamic MPD": {dynamicCtx, func() string { return srv.URL + "/play.html?player=dash&src=" + url.QueryEscape(a.URL+dash) }},
		"static MPD, reloaded": {staticCtx, func() string {
			return srv.URL + "/static.html?every=1000&src=" + url.QueryEscape(srv.URL+"/static.mpd")
		}},
	}
	b.ResetTimer()
	r := a.upload(tok, clip(b, "live"), map[string]string{"title": "which manifest"})
	require.Equal(b, 202, r.Status, "%s", r.Body)
	id = str(r.JSON(b)["video"].(map[string]any)["id"])
	uploaded := time.Now()
	require.Eventually(b, func() bool {
		v := a.video(id, tok)
		dash, duration = dashOf(*v), float64(deref(v.DurationSeconds))
		return dash != "" && string(v.Status) == "processing"
	}, time.Minute, 50*time.Millisecond)
	for _, v := range viewers {
		require.NoError(b, chromedp.Run(v.ctx, chromedp.Navigate(v.u()), chromedp.Evaluate(watchdogJS, nil)))
	}
	done := map[string]playStats{}
	stuck := map[string]time.Time{}
	lastT := map[string]float64{}
	deadline := time.Now().Add(time.Duration(duration)*time.Second + 90*time.Second)
	for len(done) < len(viewers) && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		for name, v := range viewers {
			if _, ok := done[name]; ok {
				continue
			}
			st, errs, err := readStats(v.ctx)
			require.NoError(b, err)
			if len(errs) > 0 || st.T >= duration-0.5 {
				done[name] = st
				continue
			}
			// Standing still for 20 s (ended or not) is where this viewer stays.
			if st.T != lastT[name] || stuck[name].IsZero() {
				lastT[name], stuck[name] = st.T, time.Now()
			} else if time.Since(stuck[name]) > 20*time.Second {
				done[name] = st
			}
		}
	}
	b.StopTimer()
	for name, v := range viewers {
		st := done[name]
		var durations []float64
		_ = chromedp.Run(v.ctx, chromedp.Evaluate(`window.durations || []`, &durations))
		_, errs, _ := readStats(v.ctx)
		fmt.Printf("manifest choice: %-22s started %.1fs after the upload, reached %.1fs of %.1fs, ended=%v, longest stall %.1fs at %.1fs, durations seen %v, errors %v\n",
			name, time.UnixMilli(int64(st.Started)).Sub(uploaded).Seconds(), st.T, duration, st.Ended, st.MaxStall, st.StallAt, durations, errs)
	}
}
