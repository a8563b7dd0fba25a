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

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestLinkPreviews (issue 16): the watch page of a public or unlisted video carries its title and
// OpenGraph/Twitter tags in the HTML (escaped), a private one says nothing; oEmbed answers with
// the fields the oEmbed 1.0 spec requires for type video.
func TestLinkPreviews(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	a := setup(t)
	tok := a.token("previewer")
	title := `Tom & "Jerry" <live>`
	vs := a.uploadReadyAll(tok, fileUpload{clip(t, "mp4"), map[string]string{"title": title, "description": "A cat and a mouse"}},
		fileUpload{clip(t, "noaudio"), map[string]string{"title": "Secret plans", "visibility": "private"}})
	pub, priv := vs[0], vs[1]

	r := a.do("GET", "/watch/"+pub.Id, nil, "")
	require.Equal(t, 200, r.Status)
	page := string(r.Body)
	require.Contains(t, page, `<title>Tom &amp; &#34;Jerry&#34; &lt;live&gt; · vod</title>`)
	require.Contains(t, page, `<meta property="og:title" content="Tom &amp; &#34;Jerry&#34; &lt;live&gt;">`)
	require.Contains(t, page, `<meta property="og:description" content="A cat and a mouse">`)
	require.Contains(t, page, `<meta property="og:image" content="http://`)
	require.Contains(t, page, `<meta name="twitter:card" content="player">`)
	require.Contains(t, page, `type="application/json+oembed"`)
	require.NotContains(t, page, "<live>", "the title is escaped")
	r = a.do("GET", "/watch/"+priv.Id, nil, "")
	require.Equal(t, 200, r.Status)
	require.NotContains(t, string(r.Body), "Secret plans", "nothing about a private video")
	require.NotContains(t, string(r.Body), "og:title")

	oe := func(u string, extra ...string) response {
		q := url.Values{"url": {u}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return a.do("GET", "/api/v1/oembed?"+q.Encode(), nil, "")
	}
	r = oe(a.URL + "/watch/" + pub.Id)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	var o map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &o))
	// oEmbed 1.0, section 2.3.4: version and type always; html, width and height for type video.
	require.Equal(t, "1.0", o["version"])
	require.Equal(t, "video", o["type"])
	require.Contains(t, o["html"], `<iframe src="`+a.URL+"/embed/"+pub.Id+`"`)
	require.Contains(t, o["html"], `title="Tom &amp; &#34;Jerry&#34; &lt;live&gt;"`)
	require.IsType(t, float64(0), o["width"])
	require.IsType(t, float64(0), o["height"])
	require.Equal(t, title, o["title"])
	require.Equal(t, "previewer", o["author_name"])
	r = oe(a.URL+"/watch/"+pub.Id, "maxwidth", "320")
	require.NoError(t, json.Unmarshal(r.Body, &o))
	require.LessOrEqual(t, o["width"], float64(320))
	require.Equal(t, 404, oe(a.URL+"/watch/"+priv.Id).Status, "private videos are not embedded")
	require.Equal(t, 404, oe("https://elsewhere.example/watch/"+pub.Id).Status)
	require.Equal(t, 501, oe(a.URL+"/watch/"+pub.Id, "format", "xml").Status)
	r = a.do("GET", "/embed/"+pub.Id, nil, "")
	require.Equal(t, 200, r.Status)
	require.Empty(t, r.Header.Get("X-Frame-Options"), "the embed page may be framed")
	require.Contains(t, r.Header.Get("Content-Security-Policy"), "frame-ancestors *")
	require.Equal(t, "DENY", a.do("GET", "/watch/"+pub.Id, nil, "").Header.Get("X-Frame-Options"), "every other page refuses framing")
}

// TestBrowserWatchPage (issue 16): the title is in the first screen at 1280x800, a speed menu,
// resuming where this browser left off, Share with the link at the current moment and the embed
// code, and the embed page playing in an iframe of another origin.
func TestBrowserWatchPage(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	tok := a.token("watcher")
	v := a.uploadReady(tok, clip(t, "e2e"), map[string]string{"title": "Six seconds"})
	id := v.Id
	ctx, shot := browser(t)
	var titleInView bool
	var rate float64
	step(t, ctx, shot, "speed",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(a.URL+"/watch/"+id),
		waitJS(`!!(window.vodPlayer && document.querySelector('video').dataset.ready === '1')`, time.Minute),
		chromedp.Evaluate(`(() => { const r = document.querySelector('[data-testid=title]').getBoundingClientRect(); return r.bottom <= innerHeight; })()`, &titleInView),
		chromedp.SetValue(`[data-testid=speed]`, "1.5"),
		chromedp.Evaluate(`document.querySelector('[data-testid=speed]').dispatchEvent(new Event('change')); true`, nil),
		chromedp.Evaluate(`window.vodPlayer.video.playbackRate`, &rate),
	)
	require.True(t, titleInView, "the title is visible without scrolling at 1280x800")
	require.Equal(t, 1.5, rate)
	var link, code, notice string
	var at float64
	step(t, ctx, shot, "resume-and-share",
		chromedp.Evaluate(`window.vodPlayer.video.muted = true; window.vodPlayer.video.play(); true`, nil),
		waitJS(`window.vodPlayer.video.currentTime > 3.6`, time.Minute),
		chromedp.Evaluate(`window.vodPlayer.video.pause(); window.vodPlayer.video.dispatchEvent(new Event('timeupdate')); true`, nil),
		chromedp.Sleep(2100*time.Millisecond), // positions are kept every 2 s
		chromedp.Evaluate(`window.vodPlayer.video.dispatchEvent(new Event('timeupdate')); true`, nil),
		chromedp.Reload(),
		waitJS(`!!(window.vodPlayer && document.querySelector('video').dataset.ready === '1')`, time.Minute),
		waitJS(`window.vodPlayer.video.currentTime >= 3`, 20*time.Second),
		chromedp.Evaluate(`window.vodPlayer.video.currentTime`, &at),
		chromedp.Text(`[data-testid=processing]`, &notice),
		chromedp.Click(`[data-testid=share]`),
		chromedp.WaitVisible(`[data-testid=share-box]`),
		chromedp.Value(`[data-testid=share-link]`, &link),
		chromedp.Value(`[data-testid=share-embed]`, &code),
	)
	require.GreaterOrEqual(t, at, 3.0, "resumed where it was left")
	require.Contains(t, notice, "Resuming at")
	require.Regexp(t, `/watch/`+id+`\?t=\d+$`, link, "the link starts at the current moment")
	require.Contains(t, code, `<iframe src="`+a.URL+"/embed/"+id+`"`)

	// Another site frames the embed page; the player tells it how playback goes.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><html><body><script>window.msgs = []; addEventListener('message', (e) => window.msgs.push(e.data));</script>
<iframe src="%s/embed/%s?autoplay=1" width="480" height="270" allow="autoplay; fullscreen"></iframe></body></html>`, a.URL, id)
	}))
	defer other.Close()
	require.False(t, strings.HasPrefix(other.URL, a.URL))
	step(t, ctx, shot, "embed",
		chromedp.Navigate(other.URL),
		waitJS(`window.msgs.some(m => m.vod === 'timeupdate' && m.time > 1)`, time.Minute),
		waitJS(`window.msgs.some(m => m.vod === 'ended')`, time.Minute),
	)
	// The framed player counts its viewer too (the watch page above never played 5 s in a row).
	require.Eventually(t, func() bool { v := a.video(id, ""); return v.Views != nil && *v.Views == 1 }, 10*time.Second, 200*time.Millisecond,
		"one view from the embed")
}
