package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
)

// firstFramePage plays ?mpd= with dash.js (the bundled player's version) and records, in
// window.ttff, the milliseconds from initialize() to the first frame presented; with ?license= it
// is a protected video's ClearKey licence URL.
const firstFramePage = `<!doctype html><html><body><video id="v" muted playsinline autoplay width="320"></video>
<script src="/lib/dashjs/dist/dash.all.min.js"></script>
<script>
const q = new URLSearchParams(location.search), video = document.getElementById('v');
window.errs = [];
const p = dashjs.MediaPlayer().create();
p.on(dashjs.MediaPlayer.events.ERROR, (e) => window.errs.push(JSON.stringify(e.error)));
if (q.get('license')) p.setProtectionData({'org.w3.clearkey': {serverURL: q.get('license')}});
const t0 = performance.now();
video.requestVideoFrameCallback(() => { window.ttff = performance.now() - t0; });
p.initialize(video, q.get('mpd'), true);
</script></body></html>`

// BenchmarkProtection (issue 18): the same 60 s 1080p30 clip processed with protection off and on,
// alternately, two runs each, upload → ready; then the time to first frame in Chromium with dash.js,
// clear against protected (licence request and the CDM included), ten alternating loads each.
func BenchmarkProtection(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "bench.mp4")
	ffmpegRun(b, "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", src)
	a := benchApp(b)
	tok := a.token("bencher")
	ready := map[string][]float64{}
	videos := map[string]apiclient.Video{}
	b.ResetTimer()
	for _, prot := range []string{"none", "clearkey", "clearkey", "none"} {
		t0 := time.Now()
		r := a.upload(tok, src, map[string]string{"title": "bench " + prot, "protection": prot})
		require.Equal(b, 202, r.Status, "%s", r.Body)
		v := a.waitFor(str(r.JSON(b)["video"].(map[string]any)["id"]), tok, 15*time.Minute)
		require.Equal(b, apiclient.Ready, v.Status, "error: %v", errOf(v))
		ready[prot] = append(ready[prot], time.Since(t0).Seconds())
		videos[prot] = v
	}
	b.StopTimer()
	mean := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	ratio := mean(ready["clearkey"]) / mean(ready["none"])
	b.ReportMetric(ratio, "ready-ratio")
	fmt.Printf("protection: upload→ready off %.2fs %.2fs, on %.2fs %.2fs, ratio of means %.3f\n",
		ready["none"][0], ready["none"][1], ready["clearkey"][0], ready["clearkey"][1], ratio)

	mux := http.NewServeMux()
	mux.Handle("/lib/", http.StripPrefix("/lib/", http.FileServer(http.Dir(playersDir(b)))))
	mux.HandleFunc("/play.html", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, firstFramePage) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx, _ := ownBrowser(b)
	ttff := map[string][]float64{}
	for i := 0; i < 20; i++ {
		prot := []string{"none", "clearkey"}[i%2]
		v := videos[prot]
		u := srv.URL + "/play.html?mpd=" + url.QueryEscape(a.URL+dashOf(v))
		if prot == "clearkey" {
			u += "&license=" + url.QueryEscape(a.URL+deref(v.Playback.License))
		}
		var ms float64
		var errs []string
		require.NoError(b, chromedp.Run(ctx, chromedp.Navigate(u),
			waitJS(`window.errs.length > 0 || window.ttff !== undefined`, time.Minute),
			chromedp.Evaluate(`window.errs`, &errs), chromedp.Evaluate(`window.ttff`, &ms)))
		require.Empty(b, errs)
		ttff[prot] = append(ttff[prot], ms)
	}
	median := func(xs []float64) float64 {
		s := append([]float64{}, xs...)
		sort.Float64s(s)
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	extra := median(ttff["clearkey"]) - median(ttff["none"])
	b.ReportMetric(extra, "extra-ttff-ms")
	fmt.Printf("protection: time to first frame (dash.js, Chromium) clear median %.0f ms, protected median %.0f ms, extra %.0f ms (clear %v, protected %v)\n",
		median(ttff["none"]), median(ttff["clearkey"]), extra, ttff["none"], ttff["clearkey"])
}
