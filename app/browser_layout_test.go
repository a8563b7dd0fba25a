package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserLayout (issue 16): no page of the app scrolls sideways at 320, 390 or 1280 px wide, for
// a visitor and for a logged-in user, and each page's primary action is inside the first screen. A
// failure names the elements that stick out. At 1280 px, axe-core (from npm) checks every page in
// both themes and finds nothing serious or critical.
func TestBrowserLayout(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	axeJS, err := os.ReadFile(filepath.Join(playersDir(t), "axe-core", "axe.min.js"))
	require.NoError(t, err)
	a := setup(t)
	a.admin("layla")
	r := a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "layla", "password": "admin horse battery"}, "")
	require.Equal(t, 200, r.Status, "%s", r.Body)
	session := r.JSON(t)
	tok := str(session["access_token"])
	v := a.uploadReady(tok, clip(t, "mkv-subs"), map[string]string{"title": "A rather long title for a video that has to wrap on a narrow phone screen"})
	tokens, err := json.Marshal(session)
	require.NoError(t, err)
	ctx, shot := browser(t)
	watch := "/watch/" + v.Id
	// The primary action of each page: what a visitor came to do there.
	primary := map[string]string{
		"/": ".card a.title", "/search?q=hello": "#search-q", watch: "video", "/login": "main form button[type=submit]",
		"/signup": "main form input[name=username]", "/foo/bar": "[data-testid=not-found] .button", "/u/layla": ".card a.title",
		"/upload": "input[type=file]", "/me": ".head .button.primary", "/admin": "[data-testid=jobs]",
	}
	pages := []string{"/", "/search?q=hello", watch, "/login", "/signup", "/foo/bar", "/u/layla"}
	userPages := []string{"/", "/upload", "/me", watch, "/search?q=hello", "/admin", "/u/layla"}
	overflow := `(() => { const w = innerWidth; if (document.documentElement.scrollWidth <= w) return "";
	  return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 0.5)
	    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ') || 'scrollWidth ' + document.documentElement.scrollWidth; })()`
	inView := `((sel) => { const e = document.querySelector(sel); if (!e) return sel + " missing";
	  const r = e.getBoundingClientRect(); if (!r.width || !r.height) return sel + " not shown";
	  return r.top >= 0 && r.top < innerHeight - 24 ? "" : sel + " starts at " + Math.round(r.top) + " of " + innerHeight; })(%q)`
	// axe: the page's violations of impact serious or critical, one line each.
	axe := `(async () => { if (!window.axe) { %s }
	  const r = await axe.run(document, { resultTypes: ['violations'] });
	  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
	    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')); })()`
	var problems []string
	check := func(width int, path, theme string) {
		var sticking, hidden string
		var violations []string
		actions := []chromedp.Action{
			chromedp.Navigate(a.URL + path),
			waitJS(`document.querySelector('main').children.length > 0`, 20*time.Second),
			chromedp.Sleep(300 * time.Millisecond), // the list and player fill in
			chromedp.Evaluate(overflow, &sticking),
			chromedp.Evaluate(fmt.Sprintf(inView, primary[path]), &hidden),
		}
		if width == 1280 {
			actions = append(actions, chromedp.Evaluate(fmt.Sprintf(axe, axeJS), &violations, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
				return p.WithAwaitPromise(true)
			}))
		}
		step(t, ctx, shot, fmt.Sprintf("w%d%s%s", width, theme, strings.ReplaceAll(path, "/", "_")), actions...)
		if sticking != "" {
			problems = append(problems, fmt.Sprintf("%s at %d px: %s", path, width, sticking))
		}
		if hidden != "" {
			problems = append(problems, fmt.Sprintf("%s at %d px: primary action out of the first screen: %s", path, width, hidden))
		}
		for _, v := range violations {
			problems = append(problems, fmt.Sprintf("%s (%s theme): axe %s", path, theme, v))
		}
	}
	for _, width := range []int{320, 390, 1280} {
		themes := []string{"light"}
		if width == 1280 {
			themes = append(themes, "dark")
		}
		for _, theme := range themes {
			require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(int64(width), 800)))
			require.NoError(t, chromedp.Run(ctx, chromedp.Navigate(a.URL+"/"),
				chromedp.Evaluate(fmt.Sprintf(`localStorage.removeItem('vod.tokens'); localStorage.setItem('vod.theme', %q); true`, theme), nil)))
			for _, p := range pages {
				check(width, p, theme)
			}
			require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(`localStorage.setItem('vod.tokens', %q); true`, tokens), nil)))
			for _, p := range userPages {
				check(width, p, theme)
			}
		}
	}
	require.Empty(t, problems, "layout and accessibility problems")
}

// TestNotFoundPages (issue 16): a browser asking for a path the app does not have gets the app's
// "Page not found" with a 404, an API client the JSON error; a private or missing video shows a
// proper page, with "Log in" for a visitor.
func TestNotFoundPages(t *testing.T) {
	backendNeutral(t)
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
