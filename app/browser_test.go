package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath is the Chromium to drive, "" when none is installed.
func chromiumPath() string {
	for _, p := range []string{os.Getenv("VOD_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// startChromium starts headless Chromium with the flags this closed network needs, on a fresh
// profile; stop ends it and removes the profile.
func startChromium() (ctx context.Context, stop func(), err error) {
	path := chromiumPath()
	if path == "" {
		return nil, nil, errNoChromium
	}
	profile, err := os.MkdirTemp("", "vod-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true), chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	stop = func() { cancelC(); cancelA(); _ = os.RemoveAll(profile) }
	// The first Run starts the browser; it must not carry a timeout, or the browser dies with it.
	if err := chromedp.Run(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	return ctx, stop, nil
}

var errNoChromium = errors.New("no Chromium installed (scripts/deps.sh installs it)")

// sharedChromium is the one Chromium of this test binary that browser hands out tabs of. Starting
// one costs ~3.5 CPU seconds, and the suite, CPU-bound, started 17 (docs/BENCHMARKS.md).
var sharedChromium struct {
	once sync.Once
	ctx  context.Context
	stop func()
	err  error
}

// browser gives the test a tab of the test binary's Chromium in a browser context of its own: its
// own cookies, storage and cache, as a fresh profile would have, closed when the test ends.
func browser(t testing.TB) (context.Context, func(string)) {
	t.Helper()
	sharedChromium.once.Do(func() {
		sharedChromium.ctx, sharedChromium.stop, sharedChromium.err = startChromium()
	})
	if errors.Is(sharedChromium.err, errNoChromium) {
		t.Skip(sharedChromium.err.Error())
	}
	require.NoError(t, sharedChromium.err)
	// The tab opens in a window of its own: Chromium refuses a tab of a new browser context
	// without one (chromedp's WithNewBrowserContext asks for none).
	browserCDP := cdp.WithExecutor(sharedChromium.ctx, chromedp.FromContext(sharedChromium.ctx).Browser)
	bc, err := target.CreateBrowserContext().WithDisposeOnDetach(true).Do(browserCDP)
	require.NoError(t, err)
	tab, err := target.CreateTarget("about:blank").WithBrowserContextID(bc).WithNewWindow(true).Do(browserCDP)
	require.NoError(t, err)
	ctx, cancel := chromedp.NewContext(sharedChromium.ctx, chromedp.WithTargetID(tab))
	t.Cleanup(func() {
		cancel()
		_ = target.DisposeBrowserContext(bc).Do(browserCDP)
	})
	require.NoError(t, chromedp.Run(ctx))
	return ctx, screenshots(t, ctx)
}

// ownBrowser starts a Chromium for the test alone: viewers that play side by side in real time
// each have their own browser process, as separate people's would, and none waits on another's.
func ownBrowser(t testing.TB) (context.Context, func(string)) {
	t.Helper()
	ctx, stop, err := startChromium()
	if errors.Is(err, errNoChromium) {
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	t.Cleanup(stop)
	return ctx, screenshots(t, ctx)
}

// screenshots saves a screenshot of the tab under the test's name.
func screenshots(t testing.TB, ctx context.Context) func(string) {
	shots := filepath.Join(os.TempDir(), "vod-e2e-screenshots", t.Name())
	return func(name string) {
		var buf []byte
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Run(sctx, chromedp.FullScreenshot(&buf, 80)); err == nil {
			_ = os.MkdirAll(shots, 0o755)
			p := filepath.Join(shots, name+".jpg")
			_ = os.WriteFile(p, buf, 0o644)
			t.Logf("screenshot: %s", p)
		}
	}
}

// step runs browser actions and keeps a screenshot of the page when they fail.
func step(t *testing.T, ctx context.Context, shot func(string), name string, actions ...chromedp.Action) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if err := chromedp.Run(sctx, actions...); err != nil {
		shot(name)
		t.Fatalf("%s: %v", name, err)
	}
}

func waitJS(expr string, timeout time.Duration) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		deadline := time.Now().Add(timeout)
		for {
			var ok bool
			if err := chromedp.Evaluate(expr, &ok).Do(ctx); err == nil && ok {
				return nil
			}
			if time.Now().After(deadline) {
				var dbg string
				_ = chromedp.Evaluate(`JSON.stringify({url: location.href, t: window.vodPlayer && window.vodPlayer.video.currentTime, buf: window.vodPlayer && [...Array(window.vodPlayer.video.buffered.length).keys()].map(i => [window.vodPlayer.video.buffered.start(i), window.vodPlayer.video.buffered.end(i)]), rs: window.vodPlayer && window.vodPlayer.video.readyState, paused: window.vodPlayer && window.vodPlayer.video.paused, verr: window.vodPlayer && window.vodPlayer.video.error && window.vodPlayer.video.error.message, derr: window.vodErrors, err: document.querySelector('[data-testid=error]')?.textContent, state: document.querySelector('[data-testid=upload-state]')?.textContent, msgs: window.msgs && window.msgs.slice(-8)})`, &dbg).Do(ctx)
				return fmt.Errorf("timed out waiting for %s (%s)", expr, dbg)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestBrowserEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	ctx, shot := browser(t)
	clipPath := clip(t, "e2e")

	step(t, ctx, shot, "signup",
		chromedp.Navigate(a.URL+"/signup"),
		chromedp.WaitVisible(`input[name=username]`),
		chromedp.SendKeys(`input[name=username]`, "viewer"),
		chromedp.SendKeys(`input[name=email]`, "viewer@example.com"),
		chromedp.SendKeys(`input[name=first_name]`, "Vi"),
		chromedp.SendKeys(`input[name=last_name]`, "Ewer"),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.SendKeys(`input[name=password_confirm]`, "correct horse battery"),
		chromedp.Click(`main form button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=username]`),
	)
	step(t, ctx, shot, "logout-login",
		chromedp.Click(`#nav button.link`),
		chromedp.WaitVisible(`a[href="/login"]`),
		chromedp.Navigate(a.URL+"/login"),
		chromedp.WaitVisible(`input[name=credential]`),
		chromedp.SendKeys(`input[name=credential]`, "viewer@example.com"),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.Click(`main form button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=username]`),
	)
	step(t, ctx, shot, "upload",
		chromedp.Navigate(a.URL+"/upload"),
		chromedp.WaitVisible(`input[type=file]`),
		chromedp.SetUploadFiles(`input[type=file]`, []string{clipPath}),
		chromedp.SendKeys(`input[name=title]`, "Browser clip"),
		chromedp.Click(`main form button[type=submit]`),
		waitJS(`document.querySelector('[data-testid=upload-progress]').value === 100`, 60*time.Second),
		waitJS(`document.querySelector('[data-testid=upload-state]').dataset.status === 'ready'`, 3*time.Minute),
		waitJS(`document.querySelector('[data-testid=processing-progress]').value === 100`, 5*time.Second),
	)
	var watchHref string
	step(t, ctx, shot, "open-watch",
		chromedp.AttributeValue(`[data-testid=watch-link]`, "href", &watchHref, nil),
		chromedp.Click(`[data-testid=watch-link]`),
		waitJS(`!!(window.vodPlayer && document.querySelector('video').dataset.ready === '1')`, 60*time.Second),
	)
	require.True(t, strings.HasPrefix(watchHref, "/watch/"))

	var qualities, subtitles []string
	step(t, ctx, shot, "menus",
		chromedp.Evaluate(`[...document.querySelectorAll('#quality option')].map(o => o.textContent)`, &qualities),
		chromedp.Evaluate(`[...document.querySelectorAll('#subtitles option')].map(o => o.textContent)`, &subtitles),
	)
	require.Len(t, qualities, 3, "auto + every rung: %v", qualities)
	require.Equal(t, "Auto", qualities[0])
	require.Contains(t, qualities[1], "360p")
	require.Contains(t, qualities[2], "480p")
	require.Equal(t, []string{"Subtitles off", "English", "Français"}, subtitles)

	step(t, ctx, shot, "subtitle-cue",
		chromedp.Evaluate(`(() => { const s = document.querySelector('#subtitles'); s.value = [...s.options].find(o => o.textContent === 'English').value; s.dispatchEvent(new Event('change')); return true })()`, nil),
		chromedp.Evaluate(`(() => { const v = document.querySelector('video'); v.currentTime = 0.5; return true })()`, nil),
		waitJS(`[...document.querySelector("video").textTracks].some(t => t.mode === "showing" && t.activeCues && t.activeCues.length > 0 && t.activeCues[0].text.includes("Hello"))`, 30*time.Second),
	)
	step(t, ctx, shot, "playback",
		chromedp.Evaluate(`document.querySelector("video").play(), true`, nil),
		waitJS(`document.querySelector('video').currentTime > 2`, 60*time.Second),
	)
	step(t, ctx, shot, "deep-link",
		chromedp.Navigate(a.URL+watchHref+"?t=3"),
		waitJS(`!!(window.vodPlayer && document.querySelector('video').dataset.ready === '1')`, 60*time.Second),
		waitJS(`document.querySelector('video').currentTime >= 2.9`, 30*time.Second),
	)
	// A word said in the subtitles finds the video, and its cue opens the player at that moment.
	var cueHref string
	step(t, ctx, shot, "search-to-moment",
		chromedp.Navigate(a.URL+"/"),
		chromedp.WaitVisible(`#search-q`),
		chromedp.SendKeys(`#search-q`, "second line\n"),
		waitJS(`document.querySelectorAll('[data-testid=cue-link]').length === 1`, 20*time.Second),
		chromedp.AttributeValue(`[data-testid=cue-link]`, "href", &cueHref, nil),
		chromedp.Click(`[data-testid=cue-link]`),
		waitJS(`!!(window.vodPlayer && document.querySelector('video').dataset.ready === '1')`, 60*time.Second),
		waitJS(`document.querySelector('video').currentTime >= 1.55`, 30*time.Second),
		// It plays from the cue (not paused there) with the matched language's captions on.
		waitJS(`!document.querySelector('video').paused && document.querySelector('video').currentTime > 2`, 30*time.Second),
		waitJS(`[...document.querySelector('video').textTracks].some(t => t.mode === 'showing' && t.language === 'en')`, 10*time.Second),
	)
	require.True(t, strings.HasPrefix(cueHref, watchHref+"?t=1.6"), "the cue of \"Second English line\" (1.6 s): %s", cueHref)
	var marked, total string
	var tidy bool
	step(t, ctx, shot, "search-scopes",
		chromedp.Navigate(a.URL+"/search?q=browser"),
		waitJS(`document.querySelectorAll('[data-testid=results] .result').length === 1`, 20*time.Second),
		chromedp.Text(`[data-testid=highlight] mark`, &marked),
		chromedp.Text(`[data-testid=total]`, &total),
		chromedp.Evaluate(`getComputedStyle(document.querySelector('main button.more')).display === 'none' && !document.querySelector('#nav').textContent.includes('null')`, &tidy),
		chromedp.Click(`nav.scopes a[href$="scope=subtitles"]`),
		waitJS(`!!document.querySelector('main p.empty') && document.querySelector('nav.scopes a[aria-current]').textContent === 'Spoken words'`, 20*time.Second),
	)
	step(t, ctx, shot, "as-you-type",
		chromedp.Navigate(a.URL+"/search?q=zzzz"),
		waitJS(`!!document.querySelector('main p.empty')`, 20*time.Second),
		chromedp.Evaluate(`document.querySelector("#search-q").value = ""`, nil),
		chromedp.SendKeys(`#search-q`, "brows"),
		waitJS(`document.querySelectorAll('[data-testid=results] .result').length === 1 && location.search === '?q=brows'`, 20*time.Second),
	)
	require.Equal(t, "Browser", marked, "the title match is marked")
	require.Equal(t, "1 video", total)
	require.True(t, tidy, "no Load more without a next page; nothing stray in the navigation")
	step(t, ctx, shot, "home",
		chromedp.Navigate(a.URL+"/"),
		waitJS(`document.querySelectorAll('[data-testid=grid] .card').length === 1`, 20*time.Second),
		chromedp.Navigate(a.URL+"/me"),
		waitJS(`document.querySelectorAll('[data-testid=mine-item]').length === 1`, 20*time.Second),
	)
}

func TestBrowserAdminPage(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	tok := a.token("someone")
	a.uploadReady(tok, clip(t, "noaudio"), map[string]string{"title": "Admin sees me"})
	a.admin("chief")
	ctx, shot := browser(t)
	step(t, ctx, shot, "admin-login",
		chromedp.Navigate(a.URL+"/login"),
		chromedp.WaitVisible(`input[name=credential]`),
		chromedp.SendKeys(`input[name=credential]`, "chief"),
		chromedp.SendKeys(`input[name=password]`, "admin horse battery"),
		chromedp.Click(`main form button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=admin-link]`),
		chromedp.Click(`[data-testid=admin-link]`),
		waitJS(`document.querySelectorAll('[data-testid=jobs] tr').length > 0`, 20*time.Second),
		waitJS(`document.body.textContent.includes('Admin sees me') && document.body.textContent.includes('someone')`, 20*time.Second),
	)
	// Issue 16: only the actions that apply; when each job ran; no way to lock yourself out.
	var completedWithCancel, completedWithRetry int
	var selfActions, timesShown bool
	step(t, ctx, shot, "admin-actions",
		chromedp.Evaluate(`[...document.querySelectorAll('[data-testid=jobs] tr')].filter(r => r.textContent.includes('completed') && r.querySelector('[data-testid=job-cancel]')).length`, &completedWithCancel),
		chromedp.Evaluate(`[...document.querySelectorAll('[data-testid=jobs] tr')].filter(r => r.textContent.includes('completed') && r.querySelector('[data-testid=job-retry]')).length`, &completedWithRetry),
		chromedp.Evaluate(`document.querySelector('[data-testid=jobs] tr .times').textContent.includes('created') && document.querySelector('[data-testid=jobs] tr .times').textContent.includes('finished')`, &timesShown),
		chromedp.Evaluate(`[...document.querySelectorAll('tr')].some(r => r.textContent.includes('chief@') && r.querySelector('button'))`, &selfActions),
	)
	require.Zero(t, completedWithCancel, "no Cancel on completed jobs")
	require.Positive(t, completedWithRetry)
	require.True(t, timesShown)
	require.False(t, selfActions, "no disable/demote on the admin's own row")
	step(t, ctx, shot, "admin-reprocess",
		chromedp.Click(`[data-testid=video-reprocess]`),
		waitJS(`[...document.querySelectorAll('tr')].some(r => r.textContent.includes('Admin sees me') && /queued|processing|ready/.test(r.textContent))`, 20*time.Second),
	)
	// A non-admin gets one refusal page.
	var refusals int
	step(t, ctx, shot, "non-admin",
		chromedp.Evaluate(`localStorage.removeItem('vod.tokens'); true`, nil),
		chromedp.Navigate(a.URL+"/login"),
		chromedp.WaitVisible(`input[name=credential]`),
		chromedp.SendKeys(`input[name=credential]`, "someone"),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.Click(`main form button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=username]`),
		chromedp.Navigate(a.URL+"/admin"),
		chromedp.WaitVisible(`[data-testid=refused]`),
		chromedp.Evaluate(`document.querySelectorAll('main table').length + document.querySelectorAll('[data-testid=error]').length`, &refusals),
	)
	require.Zero(t, refusals, "no admin tables or error boxes for a non-admin")
}

// TestBrowserAudioLanguages (issue 19): the watch page of a two-language video offers both (and the
// 5.1 rendition of the English) in an audio menu, starts with the source's default in stereo, and
// switching to another language, then to the 5.1 rendition, goes on playing.
func TestBrowserAudioLanguages(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	tok := a.token("polyglot")
	v := a.uploadReady(tok, clip(t, "two-audio"), nil)
	ctx, shot := browser(t)
	var options []string
	step(t, ctx, shot, "audio-menu",
		chromedp.Navigate(a.URL+"/watch/"+v.Id),
		waitJS(`document.querySelectorAll('[data-testid=audio] option').length === 3`, time.Minute),
		chromedp.Evaluate(`[...document.querySelectorAll('[data-testid=audio] option')].map(o => o.textContent)`, &options))
	require.Equal(t, []string{"English", "Français", "English (5.1)"}, options)
	var lang string
	step(t, ctx, shot, "play-default",
		chromedp.Evaluate(`window.vodPlayer.video.play()`, nil),
		waitJS(`window.vodPlayer.video.currentTime > 1`, time.Minute),
		chromedp.Evaluate(`window.vodPlayer.player.getCurrentTrackFor('audio').lang`, &lang))
	require.Equal(t, "en", lang)
	step(t, ctx, shot, "switch-language",
		chromedp.SetValue(`[data-testid=audio]`, "1"),
		chromedp.Evaluate(`document.querySelector('[data-testid=audio]').dispatchEvent(new Event('change'))`, nil),
		waitJS(`window.vodPlayer.player.getCurrentTrackFor('audio').lang === 'fr'`, 30*time.Second),
		chromedp.Evaluate(`window.__t = window.vodPlayer.video.currentTime`, nil),
		waitJS(`window.vodPlayer.video.currentTime > window.__t + 1 || window.vodPlayer.video.ended`, time.Minute))
	var channels int
	step(t, ctx, shot, "switch-surround",
		chromedp.Evaluate(`window.vodPlayer.video.currentTime = 1`, nil),
		chromedp.SetValue(`[data-testid=audio]`, "2"),
		chromedp.Evaluate(`document.querySelector('[data-testid=audio]').dispatchEvent(new Event('change'))`, nil),
		waitJS(`window.vodPlayer.player.getCurrentTrackFor('audio').labels[0].text === 'English (5.1)'`, 30*time.Second),
		chromedp.Evaluate(`window.vodPlayer.video.play(); window.__t = window.vodPlayer.video.currentTime`, nil),
		waitJS(`window.vodPlayer.video.currentTime > window.__t + 1 || window.vodPlayer.video.ended`, time.Minute),
		chromedp.Evaluate(`Number(window.vodPlayer.player.getCurrentTrackFor('audio').audioChannelConfiguration[0].value || window.vodPlayer.player.getCurrentTrackFor('audio').audioChannelConfiguration[0])`, &channels))
	require.Equal(t, 6, channels)
	var errs []string
	require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(`window.vodErrors || []`, &errs)))
	require.Empty(t, errs)
}

// TestBrowserWatchNow (issue 14): the upload page offers "Watch now" while the video is still
// processing, the watch page plays it, and a seek past what has been encoded is refused gently:
// the player goes back to what exists and says why.
func TestBrowserWatchNow(t *testing.T) {
	// The subject is the pages' offer and refusal; playing from each backend's storage while the
	// video is processed is TestWatchWhileProcessing's, which runs on both.
	backendNeutral(t)
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	// A slow encode (one job, one thread, preset slow), so the video stays processing long after
	// its first seconds are playable.
	a := setup(t, map[string]string{"VOD_TRANSCODE_PRESET": "slow", "VOD_TRANSCODE_ENCODE_JOBS": "1", "VOD_TRANSCODE_ENCODER_THREADS": "1"})
	ctx, shot := browser(t)
	step(t, ctx, shot, "signup",
		chromedp.Navigate(a.URL+"/signup"),
		chromedp.WaitVisible(`input[name=username]`),
		chromedp.SendKeys(`input[name=username]`, "eager"),
		chromedp.SendKeys(`input[name=email]`, "eager@example.com"),
		chromedp.SendKeys(`input[name=first_name]`, "Ea"),
		chromedp.SendKeys(`input[name=last_name]`, "Ger"),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.SendKeys(`input[name=password_confirm]`, "correct horse battery"),
		chromedp.Click(`main form button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=username]`),
	)
	var state string
	step(t, ctx, shot, "watch-now-while-processing",
		chromedp.Navigate(a.URL+"/upload"),
		chromedp.WaitVisible(`input[type=file]`),
		chromedp.SetUploadFiles(`input[type=file]`, []string{clip(t, "live")}),
		chromedp.SendKeys(`input[name=title]`, "Early bird"),
		// Encrypted (issue 18): watching while processing works for protected videos too.
		chromedp.SetValue(`[data-testid=upload-protection]`, "clearkey"),
		chromedp.Click(`main form button[type=submit]`),
		waitJS(`!!document.querySelector('[data-testid=watch-link]')`, 2*time.Minute),
		chromedp.Evaluate(`document.querySelector('[data-testid=upload-state]').dataset.status`, &state),
	)
	require.Equal(t, "processing", state, "Watch now is offered before the video is ready")
	var href string
	step(t, ctx, shot, "watch-link", chromedp.AttributeValue(`[data-testid=watch-link]`, "href", &href, nil))
	early := a.video(href[strings.LastIndex(href, "/")+1:], "")
	require.Equal(t, "clearkey", string(deref(early.Protection)), "uploaded encrypted from the form")
	require.Contains(t, string(a.fetch(t, dashOf(*early))), "cenc:default_KID", "the manifest of the processing video announces the key")
	step(t, ctx, shot, "plays-while-processing",
		chromedp.Click(`[data-testid=watch-link]`),
		// Press play once the player has attached its media source: a play() before that is undone
		// by the media element's load algorithm (the source dash.js sets resets paused), which is a
		// race of the test, not something a viewer can do (there is no button before the video).
		waitJS(`!!(window.vodPlayer && window.vodPlayer.video && window.vodPlayer.video.readyState >= 2)`, time.Minute),
		chromedp.Evaluate(`window.vodPlayer.video.muted = true; window.vodPlayer.video.play().catch(() => {}); true`, nil),
		waitJS(`window.vodPlayer.video.currentTime > 0.5`, time.Minute),
	)
	var at float64
	var notice string
	step(t, ctx, shot, "seek-refused",
		chromedp.Evaluate(`window.vodPlayer.video.currentTime = 58`, nil),
		waitJS(`window.vodPlayer.video.currentTime < 50 && !document.querySelector('[data-testid=processing]').hidden`, 30*time.Second),
		chromedp.Evaluate(`window.vodPlayer.video.currentTime`, &at),
		chromedp.Evaluate(`document.querySelector('[data-testid=processing]').textContent`, &notice),
	)
	require.Less(t, at, 50.0)
	require.Contains(t, notice, "can be watched", "the page says how much exists")
}
