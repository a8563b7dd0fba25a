package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserResumableUpload (issue 15): a user uploads a 60 MB file through the upload page on a
// slow link, reloads the page at about half (the page warns before leaving), chooses the same file
// again, and the upload resumes where it stopped ("Resuming at N %") instead of starting over,
// into one video that becomes ready.
func TestBrowserResumableUpload(t *testing.T) {
	// The subject is the upload page's resume; tus on each backend's storage is TestTusResume*'s.
	backendNeutral(t)
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	file := bigClip(t)
	ctx, shot := browser(t)
	// The warning before leaving mid-upload is a beforeunload dialog: count it and accept it.
	var dialogs atomic.Int32
	chromedp.ListenTarget(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok && d.Type == page.DialogTypeBeforeunload {
			dialogs.Add(1)
			go func() { _ = chromedp.Run(ctx, page.HandleJavaScriptDialog(true)) }()
		}
	})
	throttle := chromedp.ActionFunc(func(ctx context.Context) error {
		// 12 MB/s up: the 60 MB file takes about five seconds.
		return network.EmulateNetworkConditions(false, 0, -1, 12e6).Do(ctx)
	})
	step(t, ctx, shot, "signup",
		network.Enable(), throttle,
		chromedp.Navigate(a.URL+"/signup"),
		chromedp.WaitVisible(`input[name=username]`),
		chromedp.SendKeys(`input[name=username]`, "resumer"),
		chromedp.SendKeys(`input[name=email]`, "resumer@example.com"),
		chromedp.SendKeys(`input[name=first_name]`, "Re"),
		chromedp.SendKeys(`input[name=last_name]`, "Sumer"),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.SendKeys(`input[name=password_confirm]`, "correct horse battery"),
		chromedp.Click(`main form button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=username]`),
	)
	var before int
	var text, rate string
	step(t, ctx, shot, "upload-half",
		chromedp.Navigate(a.URL+"/upload"),
		chromedp.WaitVisible(`input[type=file]`),
		chromedp.SetUploadFiles(`input[type=file]`, []string{file}),
		chromedp.SendKeys(`input[name=title]`, "Half and half"),
		chromedp.Click(`main form button[type=submit]`),
		waitJS(`document.querySelector('[data-testid=upload-progress]').value >= 40`, time.Minute),
		chromedp.Evaluate(`document.querySelector('[data-testid=upload-progress]').value`, &before),
		chromedp.Text(`[data-testid=upload-state]`, &text),
		chromedp.Text(`[data-testid=upload-rate]`, &rate),
	)
	require.Less(t, before, 90, "the reload happens mid-upload")
	require.Regexp(t, `^Uploading \d+ %$`, text)
	require.Regexp(t, `/s · .* left$`, rate, "speed and time left")
	step(t, ctx, shot, "reload",
		chromedp.Reload(),
		chromedp.WaitVisible(`input[type=file]`),
		waitJS(`document.querySelector('[data-testid=interrupted]').textContent.includes('was interrupted')`, 10*time.Second),
	)
	require.GreaterOrEqual(t, dialogs.Load(), int32(1), "the page warned before leaving mid-upload")
	// Resuming: record every status line the page shows, to see "Resuming at N %".
	var seen []string
	step(t, ctx, shot, "resume",
		chromedp.Evaluate(`window.__states = []; new MutationObserver(() => window.__states.push(document.querySelector('[data-testid=upload-state]').textContent)).observe(document.querySelector('main'), {subtree: true, childList: true, characterData: true}); true`, nil),
		chromedp.SetUploadFiles(`input[type=file]`, []string{file}),
		chromedp.Click(`main form button[type=submit]`),
		waitJS(`document.querySelector('[data-testid=upload-progress]').value === 100`, time.Minute),
		waitJS(`!!document.querySelector('[data-testid=watch-link]')`, 3*time.Minute),
		chromedp.Evaluate(`window.__states`, &seen),
	)
	var resumedAt string
	for _, s := range seen {
		if strings.HasPrefix(s, "Resuming at") {
			resumedAt = s
			break
		}
	}
	require.NotEmpty(t, resumedAt, "the page said it resumed: %q", seen)
	require.NotContains(t, seen, "Uploading 0 %", "the upload did not start over")
	t.Logf("reloaded at %d %%; %s", before, resumedAt)
	var n int
	step(t, ctx, shot, "one-video",
		chromedp.Evaluate(`fetch('/api/v1/videos?owner=resumer', {headers: {Authorization: 'Bearer ' + JSON.parse(localStorage.getItem('vod.tokens')).access_token}}).then(r => r.json()).then(b => b.items.length)`, &n,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	require.Equal(t, 1, n, "the resumed upload is one video, not two")
}

// TestBrowserUploadPhone (issue 15): on a phone-sized screen the status line and the Watch button
// are in view without scrolling; a file that is not a video ends in its reason, never next to
// "Uploading 100 %"; and that error is gone when the next upload starts.
func TestBrowserUploadPhone(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	junk := filepath.Join(t.TempDir(), "notes.mp4")
	require.NoError(t, os.WriteFile(junk, []byte(strings.Repeat("this is not a video ", 500)), 0o644))
	ctx, shot := browser(t)
	step(t, ctx, shot, "signup",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1), chromedp.EmulateMobile),
		chromedp.Navigate(a.URL+"/signup"),
		chromedp.WaitVisible(`input[name=username]`),
		chromedp.SendKeys(`input[name=username]`, "phoney"),
		chromedp.SendKeys(`input[name=email]`, "phoney@example.com"),
		chromedp.SendKeys(`input[name=first_name]`, "Pho"),
		chromedp.SendKeys(`input[name=last_name]`, "Ney"),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.SendKeys(`input[name=password_confirm]`, "correct horse battery"),
		chromedp.Click(`main form button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=username]`),
	)
	var state, errText string
	step(t, ctx, shot, "refused",
		chromedp.Navigate(a.URL+"/upload"),
		chromedp.WaitVisible(`input[type=file]`),
		chromedp.SetUploadFiles(`input[type=file]`, []string{junk}),
		chromedp.Click(`main form button[type=submit]`),
		waitJS(`!!document.querySelector('[data-testid=upload-status] [data-testid=error]')`, time.Minute),
		chromedp.Text(`[data-testid=upload-state]`, &state),
		chromedp.Text(`[data-testid=upload-status] [data-testid=error]`, &errText),
	)
	require.NotContains(t, state, "Uploading", "no upload percentage next to the error")
	require.Contains(t, errText, "Processing failed")
	var inView bool
	var stateText string
	step(t, ctx, shot, "next-upload",
		chromedp.Click(`[data-testid=upload-again]`),
		chromedp.WaitVisible(`input[type=file]`),
		chromedp.SetUploadFiles(`input[type=file]`, []string{clip(t, "mp4")}),
		chromedp.Click(`main form button[type=submit]`),
		waitJS(`!document.querySelector('[data-testid=error]')`, 10*time.Second),
		waitJS(`!!document.querySelector('[data-testid=watch-link]')`, 3*time.Minute),
		chromedp.Evaluate(`(() => { const inView = (el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; };
			return window.scrollY === 0 && inView(document.querySelector('[data-testid=watch-link]')) && inView(document.querySelector('[data-testid=upload-state]')); })()`, &inView),
		chromedp.Text(`[data-testid=upload-state]`, &stateText),
	)
	require.True(t, inView, "status line and Watch button in view at 390x844 without scrolling")
	require.NotRegexp(t, `probe|transcode`, stateText, "plain stage names")
}
