package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserEngage (issue 16): what a channel owner and their viewers do in the app. A viewer's
// playback counts one view after a few seconds, shown on the page and on the cards; names lead to
// channels, which list only public videos; the home page sorts by views; My videos edits title and
// description in place, takes a custom thumbnail and a subtitle file; the theme toggle sticks.
func TestBrowserEngage(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	if testing.Short() {
		t.Skip("drives Chromium")
	}
	a := setup(t)
	maker := a.signup("maker")
	makerTok := str(maker["access_token"])
	pub := a.uploadReady(makerTok, clip(t, "e2e"), map[string]string{"title": "Public six seconds"}).Id
	priv := a.uploadReady(makerTok, clip(t, "mp4"), map[string]string{"title": "Private three seconds", "visibility": "private"}).Id
	fan, err := json.Marshal(a.signup("fan"))
	require.NoError(t, err)
	ctx, shot := browser(t)
	setSession := func(tokens []byte) chromedp.Action {
		return chromedp.Evaluate(fmt.Sprintf(`localStorage.setItem('vod.tokens', %q); true`, tokens), nil)
	}

	// A logged-in viewer watches: after 5 s of playback the page shows one view, and so does the API.
	var viewsText string
	step(t, ctx, shot, "view",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(a.URL+"/"), setSession(fan),
		chromedp.Navigate(a.URL+"/watch/"+pub),
		waitJS(`!!(window.vodPlayer && document.querySelector('video').dataset.ready === '1')`, time.Minute),
		chromedp.Text(`[data-testid=views]`, &viewsText))
	require.Equal(t, "0 views", viewsText)
	step(t, ctx, shot, "view-counted",
		chromedp.Evaluate(`window.vodPlayer.video.muted = true; window.vodPlayer.video.play(); true`, nil),
		waitJS(`document.querySelector('[data-testid=views]').textContent === '1 view'`, time.Minute))
	require.Equal(t, 1, *a.video(pub, "").Views)

	// The card shows it; the owner's name on the card leads to the channel, which lists the public
	// video only, also when its owner looks.
	var cardViews, channelName string
	var channelIDs []string
	step(t, ctx, shot, "card-and-channel",
		chromedp.Navigate(a.URL+"/?sort=views"),
		chromedp.WaitVisible(`[data-testid=card-views]`),
		chromedp.Text(`[data-testid=card-views]`, &cardViews),
		chromedp.Click(`.card [data-testid=owner-link]`),
		waitJS(`location.pathname === '/u/maker'`, 10*time.Second),
		chromedp.WaitVisible(`[data-testid=channel-name]`),
		chromedp.Text(`[data-testid=channel-name]`, &channelName),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.Evaluate(`[...document.querySelectorAll('.card a.title')].map(a => a.getAttribute('href'))`, &channelIDs))
	require.True(t, strings.HasPrefix(cardViews, "1 view"), cardViews)
	require.Equal(t, "maker", channelName)
	require.Equal(t, []string{"/watch/" + pub}, channelIDs, "the private video stays off the channel")
	makerSession, err := json.Marshal(maker)
	require.NoError(t, err)
	step(t, ctx, shot, "own-channel",
		setSession(makerSession), chromedp.Reload(),
		chromedp.WaitVisible(`[data-testid=channel-name]`), chromedp.Sleep(300*time.Millisecond),
		chromedp.Evaluate(`[...document.querySelectorAll('.card a.title')].map(a => a.getAttribute('href'))`, &channelIDs))
	require.Equal(t, []string{"/watch/" + pub}, channelIDs, "a channel is what everyone sees")

	// My videos: edit in place; the item shows the stored title at once.
	var title string
	step(t, ctx, shot, "edit",
		chromedp.Navigate(a.URL+"/me"),
		chromedp.WaitVisible(fmt.Sprintf(`[data-id=%q] [data-testid=edit-title]`, pub)),
		chromedp.SetValue(fmt.Sprintf(`[data-id=%q] [data-testid=edit-title]`, pub), "Renamed in place"),
		chromedp.SetValue(fmt.Sprintf(`[data-id=%q] [data-testid=edit-desc]`, pub), "Now with words"),
		chromedp.Click(fmt.Sprintf(`[data-id=%q] [data-testid=save]`, pub)),
		waitJS(fmt.Sprintf(`document.querySelector('[data-id=%q] [data-testid=mine-msg]').textContent === 'Saved.'`, pub), 10*time.Second),
		chromedp.Text(fmt.Sprintf(`[data-id=%q] [data-testid=mine-title]`, pub), &title))
	require.Equal(t, "Renamed in place", title)
	got := a.video(pub, makerTok)
	require.Equal(t, "Renamed in place", got.Title)
	require.Equal(t, "Now with words", *got.Description)

	// A custom thumbnail and a subtitle file, each through its file picker.
	dir := t.TempDir()
	poster := filepath.Join(dir, "poster.png")
	require.NoError(t, os.WriteFile(poster, pngOf(t, 320, 180), 0o644))
	vtt := filepath.Join(dir, "de.vtt")
	require.NoError(t, os.WriteFile(vtt, []byte("WEBVTT\n\n00:00.500 --> 00:02.000\nHallo aus dem Test\n"), 0o644))
	item := fmt.Sprintf(`[data-id=%q] `, priv)
	var posterSrc, subs string
	step(t, ctx, shot, "poster-and-subtitles",
		chromedp.Click(item+`details summary`),
		chromedp.SetUploadFiles(item+`[data-testid=poster-file]`, []string{poster}),
		waitJS(fmt.Sprintf(`document.querySelector('%s[data-testid=mine-msg]').textContent === 'Thumbnail updated.'`, item), 20*time.Second),
		chromedp.AttributeValue(item+`[data-testid=mine-poster]`, "src", &posterSrc, nil),
		chromedp.Click(item+`details summary`),
		chromedp.SetUploadFiles(item+`[data-testid=sub-file]`, []string{vtt}),
		chromedp.SendKeys(item+`[data-testid=sub-lang]`, "de"),
		chromedp.SendKeys(item+`[data-testid=sub-label]`, "Deutsch"),
		chromedp.Click(item+`[data-testid=sub-add]`),
		waitJS(fmt.Sprintf(`document.querySelector('%s[data-testid=mine-msg]').textContent === 'Subtitles added.'`, item), 20*time.Second),
		chromedp.Click(item+`details summary`),
		chromedp.Text(item+`[data-testid=sub-list]`, &subs))
	require.Contains(t, posterSrc, "/poster/")
	require.Contains(t, subs, "Deutsch")
	require.Contains(t, *a.video(priv, makerTok).Thumbnails.Poster, "/poster/")

	// Light and dark: the toggle flips the page and the choice survives a reload.
	var before, after, reloaded, theme string
	bg := `getComputedStyle(document.body).backgroundColor`
	step(t, ctx, shot, "theme",
		chromedp.Navigate(a.URL+"/"), chromedp.WaitVisible(`[data-testid=theme-toggle]`),
		chromedp.Evaluate(bg, &before),
		chromedp.Click(`[data-testid=theme-toggle]`),
		chromedp.Evaluate(bg, &after),
		chromedp.Reload(), chromedp.WaitVisible(`[data-testid=theme-toggle]`),
		chromedp.Evaluate(bg, &reloaded),
		chromedp.Evaluate(`document.documentElement.dataset.theme`, &theme))
	require.NotEqual(t, before, after)
	require.Equal(t, after, reloaded)
	require.Contains(t, []string{"light", "dark"}, theme)
}
