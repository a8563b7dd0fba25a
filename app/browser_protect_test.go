package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// shakaPage plays ?mpd= with Shaka Player from npm, the ClearKey licence at ?license=, adding
// ?bearer= as the Authorization header of the licence request when given; window.errs collects
// Shaka's error codes.
const shakaPage = `<!doctype html><html><body><video id="v" muted playsinline width="320"></video>
<script src="/lib/shaka-player/dist/shaka-player.compiled.js"></script>
<script>
const q = new URLSearchParams(location.search), video = document.getElementById('v');
window.errs = [];
(async () => { try {
  shaka.polyfill.installAll();
  const p = new shaka.Player();
  p.addEventListener('error', (e) => window.errs.push(e.detail.code));
  p.configure({drm: {servers: {'org.w3.clearkey': q.get('license')}}});
  if (q.get('bearer')) p.getNetworkingEngine().registerRequestFilter((type, req) => {
    if (type === shaka.net.NetworkingEngine.RequestType.LICENSE) req.headers['Authorization'] = 'Bearer ' + q.get('bearer');
  });
  await p.attach(video);
  await p.load(q.get('mpd'));
  await video.play();
} catch (e) { window.errs.push(e && e.code || String(e)); } })();
</script></body></html>`

// TestBrowserProtected (issue 18): the bundled page plays a protected video through Chromium's
// ClearKey CDM for an anonymous viewer of a public one and for the owner of a private one, and the
// embed of a private one with the token of its share code; Shaka Player plays the same MPD with the
// licence URL; a licence refused to someone not allowed ends in an error, not a hang, in Shaka and in
// the bundled page (which says why).
func TestBrowserProtected(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	owner := a.signup("sealer")
	tok := str(owner["access_token"])
	vs := a.uploadReadyAll(tok, fileUpload{clip(t, "e2e"), map[string]string{"title": "Public and sealed", "protection": "clearkey"}},
		fileUpload{clip(t, "e2e"), map[string]string{"title": "Private and sealed", "visibility": "private", "protection": "clearkey"}})
	pub, priv := vs[0], vs[1]
	ctx, shot := browser(t)
	session, err := json.Marshal(owner)
	require.NoError(t, err)

	// plays watches the page at u until two seconds have played and checks pictures were decoded.
	plays := func(name, u string) {
		t.Helper()
		var frames float64
		var refused bool
		step(t, ctx, shot, name,
			chromedp.Navigate(u),
			// Play once the player has data: a play() before dash.js sets its source is undone by it.
			waitJS(`!!(window.vodPlayer && window.vodPlayer.video.readyState >= 2) || !!document.querySelector('[data-testid=player-error]')`, time.Minute),
			chromedp.Evaluate(`window.vodPlayer.video.muted = true; window.vodPlayer.video.play().catch(() => {}); true`, nil),
			waitJS(`window.vodPlayer.video.currentTime > 2 || !!document.querySelector('[data-testid=player-error]')`, time.Minute),
			chromedp.Evaluate(`!!document.querySelector('[data-testid=player-error]')`, &refused),
			chromedp.Evaluate(`window.vodPlayer.video.getVideoPlaybackQuality().totalVideoFrames`, &frames))
		require.False(t, refused, "%s: the key was given", name)
		require.Greater(t, frames, 30.0, "%s: pictures were decrypted and decoded", name)
	}
	plays("anonymous-public", a.URL+"/watch/"+pub.Id)
	step(t, ctx, shot, "login", chromedp.Evaluate(fmt.Sprintf(`localStorage.setItem('vod.tokens', %q); true`, session), nil))
	plays("owner-private", a.URL+"/watch/"+priv.Id)

	// The owner's share code embeds the private video with its playback token; it plays for anyone.
	var code string
	step(t, ctx, shot, "share",
		chromedp.Click(`[data-testid=share]`),
		chromedp.Value(`[data-testid=share-embed]`, &code))
	embed := strings.Split(strings.Split(code, `src="`)[1], `"`)[0]
	require.Contains(t, embed, "/embed/"+priv.Id+"?token=")
	step(t, ctx, shot, "logout", chromedp.Evaluate(`localStorage.removeItem('vod.tokens'); true`, nil))
	plays("embed-private", embed)

	// Shaka Player, from another origin, with the licence URL the API gives (the private one's
	// carries its token); and a stranger with the bare licence URL is refused: an error, not a hang.
	mux := http.NewServeMux()
	mux.Handle("/lib/", http.StripPrefix("/lib/", http.FileServer(http.Dir(playersDir(t)))))
	mux.HandleFunc("/shaka.html", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, shakaPage) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ownerView := a.video(priv.Id, tok)
	shaka := func(mpd, license, bearer string) string {
		return fmt.Sprintf("%s/shaka.html?mpd=%s&license=%s&bearer=%s", srv.URL, url.QueryEscape(a.URL+mpd), url.QueryEscape(a.URL+license), bearer)
	}
	var frames float64
	var errs []float64
	step(t, ctx, shot, "shaka-private",
		chromedp.Navigate(shaka(dashOf(*ownerView), deref(ownerView.Playback.License), "")),
		waitJS(`window.errs.length > 0 || document.getElementById('v').currentTime > 2`, time.Minute),
		chromedp.Evaluate(`window.errs`, &errs),
		chromedp.Evaluate(`document.getElementById('v').getVideoPlaybackQuality().totalVideoFrames`, &frames))
	require.Empty(t, errs)
	require.Greater(t, frames, 30.0)
	stranger := a.token("stranger")
	bare := strings.Split(deref(ownerView.Playback.License), "?")[0]
	step(t, ctx, shot, "shaka-stranger",
		chromedp.Navigate(shaka(dashOf(*ownerView), bare, stranger)),
		waitJS(`window.errs.length > 0 || document.getElementById('v').currentTime > 2`, time.Minute),
		chromedp.Evaluate(`window.errs`, &errs))
	require.Contains(t, errs, 6007.0, "Shaka's LICENSE_REQUEST_FAILED")

	// The bundled page when the licence is refused: the page is open on a public video when its
	// owner makes it private, before the player's licence request reaches the server, which then
	// answers 404; the viewer is told why.
	paused := make(chan fetch.RequestID, 8)
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- e.RequestID:
			default:
			}
		}
	})
	step(t, ctx, shot, "hold-licence",
		fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*/license*"}}),
		chromedp.Navigate(a.URL+"/watch/"+pub.Id))
	var held fetch.RequestID
	select {
	case held = <-paused:
	case <-time.After(time.Minute):
		t.Fatal("the player never asked for the licence")
	}
	r := a.do("PATCH", "/api/v1/videos/"+pub.Id, map[string]any{"visibility": "private"}, tok)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	var why string
	var at float64
	step(t, ctx, shot, "licence-refused",
		fetch.ContinueRequest(held),
		waitJS(`!!document.querySelector('[data-testid=player-error]')`, time.Minute),
		chromedp.Text(`[data-testid=player-error]`, &why),
		chromedp.Evaluate(`window.vodPlayer.video.currentTime`, &at),
		fetch.Disable())
	require.Contains(t, why, "key was refused")
	require.Zero(t, at, "nothing played")
}
