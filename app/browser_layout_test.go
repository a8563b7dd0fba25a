package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserLayout (issue 16): no page of the app scrolls sideways at 320, 390 or 1280 px wide, for
// a visitor and for a logged-in user. A failure names the elements that stick out.
func TestBrowserLayout(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	session := a.signup("layla")
	tok := str(session["access_token"])
	v := a.uploadReady(tok, clip(t, "mkv-subs"), map[string]string{"title": "A rather long title for a video that has to wrap on a narrow phone screen"})
	tokens, err := json.Marshal(session)
	require.NoError(t, err)
	ctx, shot := browser(t)
	pages := []string{"/", "/search?q=hello", "/watch/" + str(v["id"]), "/login", "/signup", "/foo/bar"}
	userPages := []string{"/", "/upload", "/me", "/watch/" + str(v["id"]), "/search?q=hello", "/admin"}
	overflow := `(() => { const w = innerWidth; if (document.documentElement.scrollWidth <= w) return "";
	  return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 0.5)
	    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ') || 'scrollWidth ' + document.documentElement.scrollWidth; })()`
	var problems []string
	check := func(width int, path string) {
		var sticking string
		step(t, ctx, shot, fmt.Sprintf("w%d%s", width, strings.ReplaceAll(path, "/", "_")),
			chromedp.Navigate(a.URL+path),
			waitJS(`document.querySelector('main').children.length > 0`, 20*time.Second),
			chromedp.Sleep(300*time.Millisecond), // the list and player fill in
			chromedp.Evaluate(overflow, &sticking))
		if sticking != "" {
			problems = append(problems, fmt.Sprintf("%s at %d px: %s", path, width, sticking))
		}
	}
	for _, width := range []int{320, 390, 1280} {
		require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(int64(width), 800)))
		require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(a.URL+"/"), chromedp.Evaluate(`localStorage.removeItem('vod.tokens'); true`, nil)))
		for _, p := range pages {
			check(width, p)
		}
		require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(`localStorage.setItem('vod.tokens', %q); true`, tokens), nil)))
		for _, p := range userPages {
			check(width, p)
		}
	}
	require.Empty(t, problems, "pages wider than the screen")
}

// TestNotFoundPages (issue 16): a browser asking for a path the app does not have gets the app's
// "Page not found" with a 404, an API client the JSON error; a private or missing video shows a
// proper page, with "Log in" for a visitor.
func TestNotFoundPages(t *testing.T) {
	t.Parallel()
	a := setup(t)
	r := a.do("GET", "/channel/x", nil, "", "Accept", "text/html,application/xhtml+xml")
	require.Equal(t, 404, r.Status)
	require.Contains(t, r.Header.Get("Content-Type"), "text/html")
	require.Contains(t, string(r.Body), `id="main"`)
	r = a.do("GET", "/channel/x", nil, "", "Accept", "application/json")
	require.Equal(t, 404, r.Status)
	require.Equal(t, "not_found", r.errCode(t))
	r = a.do("GET", "/api/v1/nothing", nil, "", "Accept", "text/html")
	require.Equal(t, "not_found", r.errCode(t), "API paths keep the JSON error")

	if testing.Short() {
		return
	}
	ctx, shot := browser(t)
	var text string
	step(t, ctx, shot, "unknown-path",
		chromedp.Navigate(a.URL+"/foo"),
		chromedp.WaitVisible(`[data-testid=not-found]`),
		chromedp.Text(`[data-testid=not-found] h1`, &text))
	require.Equal(t, "Page not found", text)
	step(t, ctx, shot, "missing-video",
		chromedp.Navigate(a.URL+"/watch/01234567-89ab-7def-8123-456789abcdef"),
		chromedp.WaitVisible(`[data-testid=unavailable]`),
		chromedp.Text(`[data-testid=unavailable]`, &text))
	require.Contains(t, text, "This video is private or does not exist")
	require.Contains(t, text, "Log in")
}
