package app

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
	"vod/app/testenv"
)

// search asks the search API through the generated client; extra are name, value pairs of the
// other parameters (scope, lang, limit, cursor).
func (a *testApp) search(token, q string, extra ...string) apiclient.SearchResult {
	a.t.Helper()
	p := &apiclient.GetSearchParams{Q: &q}
	for i := 0; i+1 < len(extra); i += 2 {
		v := extra[i+1]
		switch extra[i] {
		case "scope":
			p.Scope = ptrTo(apiclient.GetSearchParamsScope(v))
		case "lang":
			p.Lang = &v
		case "cursor":
			p.Cursor = &v
		case "limit":
			n, err := strconv.Atoi(v)
			require.NoError(a.t, err)
			p.Limit = &n
		default:
			a.t.Fatalf("search parameter %q", extra[i])
		}
	}
	r, err := a.api(token).GetSearchWithResponse(context.Background(), p)
	require.NoError(a.t, err)
	require.NotNil(a.t, r.JSON200, "%d %s", r.StatusCode(), r.Body)
	return *r.JSON200
}

func hitIDs(res apiclient.SearchResult) []string {
	var ids []string
	for _, it := range res.Items {
		ids = append(ids, it.Video.Id)
	}
	return ids
}

// eventually retries a search until check passes: the index follows changes asynchronously.
func (a *testApp) eventually(within time.Duration, check func() bool, msg string) {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for !check() {
		if time.Now().After(deadline) {
			a.t.Fatalf("not within %s: %s", within, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type corpus struct {
	tok                                string
	cooking, travel, private, unlisted string
}

func seedSearch(t *testing.T, a *testApp) corpus {
	path := clip(t, "noaudio")
	var c corpus
	c.tok = a.token("searcher")
	mk := func(title, desc, vis string) string {
		v := a.uploadReady(c.tok, path, map[string]string{"title": title, "description": desc, "visibility": vis})
		return v.Id
	}
	c.cooking = mk("Cooking pasta at home", "A recipe for fresh tagliatelle with butter", "public")
	c.travel = mk("Travel diary", "Walking through the mountains of Provence and cooking outdoors", "public")
	c.private = mk("Secret cooking notes", "private pasta", "private")
	c.unlisted = mk("Unlisted pasta", "hidden pasta", "unlisted")
	require.Equal(t, 201, a.postSubtitle(c.tok, c.travel, "en.vtt",
		"WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nThe horses are galloping across the valley\n\n00:00:05.250 --> 00:00:07.000\nWe stopped for a picnic near the river\n", "en", "").Status)
	require.Equal(t, 201, a.postSubtitle(c.tok, c.travel, "fr.vtt",
		"WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nLes chevaux galopent dans la vallée\n\n00:00:05.250 --> 00:00:07.000\nNous avons mangé des fromages délicieux\n", "fr", "").Status)
	return c
}

func TestSearch(t *testing.T) {
	t.Parallel()
	a := setup(t)
	c := seedSearch(t, a)
	other := a.token("stranger")
	a.eventually(5*time.Second, func() bool {
		return len(hitIDs(a.search(other, "picnic"))) == 1 && len(hitIDs(a.search(other, "vallée"))) == 1
	}, "both subtitle tracks indexed")

	// Metadata: title ranks above description.
	res := a.search(other, "cooking")
	require.Equal(t, []string{c.cooking, c.travel}, hitIDs(res), "title match first; private/unlisted never for others")
	hl := res.Items[0].Highlights["title"]
	require.Contains(t, hl[0], "<mark>Cooking</mark>")
	require.Equal(t, 2, res.Total)

	// Subtitle hit with the cue's time.
	res = a.search(other, "picnic", "scope", "subtitles")
	it := res.Items[0]
	require.Equal(t, c.travel, it.Video.Id)
	cue := it.Cues[0]
	require.InDelta(t, 5.25, cue.Start, 0.001)
	require.InDelta(t, 7.0, cue.End, 0.001)
	require.Equal(t, "en", cue.Lang)
	require.Contains(t, cue.Text, "picnic")
	require.Empty(t, hitIDs(a.search(other, "picnic", "scope", "metadata")))

	// Phrases, prefixes, typos, stemming.
	require.Equal(t, []string{c.travel}, hitIDs(a.search(other, `"horses are galloping"`)))
	require.Empty(t, hitIDs(a.search(other, `"galloping horses"`)), "phrase order matters")
	require.Equal(t, []string{c.cooking}, hitIDs(a.search(other, "tagliat")), "prefix as you type")
	require.Equal(t, []string{c.cooking}, hitIDs(a.search(other, "tagliatele")), "one typo")
	require.Equal(t, []string{c.travel}, hitIDs(a.search(other, "mountain")), "English stemming")
	res = a.search(other, "cheval", "lang", "fr")
	require.Equal(t, []string{c.travel}, hitIDs(res), "French word form: cheval finds chevaux")
	require.Equal(t, "fr", res.Items[0].Cues[0].Lang)
	require.Equal(t, []string{c.travel}, hitIDs(a.search(other, "fromage")), "French plural")
	require.Empty(t, hitIDs(a.search(other, "picnic", "lang", "fr", "scope", "subtitles")), "the English word is not in the French track")
	res = a.search(other, "picnic valley", "scope", "subtitles", "lang", "en")
	cues := res.Items[0].Cues
	require.Len(t, cues, 2, "each cue with a matched word")
	require.InDelta(t, 1.0, cues[0].Start, 0.001, "in time order")

	// Visibility: the owner finds their private video, others never do.
	require.ElementsMatch(t, []string{c.cooking, c.travel, c.private}, hitIDs(a.search(c.tok, "cooking")))
	require.NotContains(t, hitIDs(a.search(c.tok, "pasta")), c.unlisted+"x")
	require.Empty(t, hitIDs(a.search("", "secret")))
	require.Empty(t, hitIDs(a.search(other, "hidden")))

	// Paging.
	res = a.search(other, "cooking", "limit", "1")
	require.Equal(t, []string{c.cooking}, hitIDs(res))
	require.NotNil(t, res.NextCursor)
	res = a.search(other, "cooking", "limit", "1", "cursor", *res.NextCursor)
	require.Equal(t, []string{c.travel}, hitIDs(res))
	require.Nil(t, res.NextCursor)

	// Edits and deletes show within a second.
	require.Equal(t, 200, a.do("PATCH", "/api/v1/videos/"+c.cooking, map[string]any{"title": "Baking bread"}, c.tok).Status)
	a.eventually(time.Second, func() bool { return len(hitIDs(a.search(other, "bread"))) == 1 }, "edit reflected")
	require.Equal(t, 200, a.do("PATCH", "/api/v1/videos/"+c.travel, map[string]any{"visibility": "private"}, c.tok).Status)
	a.eventually(time.Second, func() bool { return len(hitIDs(a.search(other, "picnic"))) == 0 }, "visibility change reflected")
	require.Equal(t, 204, a.do("DELETE", "/api/v1/videos/"+c.cooking, nil, c.tok).Status)
	a.eventually(time.Second, func() bool { return len(hitIDs(a.search(other, "bread"))) == 0 }, "delete reflected")

	// Validation.
	require.Equal(t, 422, a.do("GET", "/api/v1/search?q=", nil, "").Status)
	require.Equal(t, 422, a.do("GET", "/api/v1/search?q=x&scope=everything", nil, "").Status)
	require.Equal(t, 422, a.do("GET", "/api/v1/search?q=x&cursor=zzz", nil, "").Status)
	require.Equal(t, 422, a.do("GET", "/api/v1/search?q=x&lang=not+a+language", nil, "").Status)
}

func TestSearchReindexAndRecovery(t *testing.T) {
	t.Parallel()
	a := setup(t)
	c := seedSearch(t, a)
	queries := []string{"cooking", "picnic", "cheval", `"horses are galloping"`, "tagliat", "pasta"}
	snapshot := func() map[string][]string {
		out := map[string][]string{}
		for _, q := range queries {
			ids := hitIDs(a.search(c.tok, q))
			sort.Strings(ids)
			out[q] = ids
		}
		return out
	}
	a.eventually(5*time.Second, func() bool {
		return len(hitIDs(a.search(c.tok, "picnic"))) == 1 && len(hitIDs(a.search(c.tok, "vallée"))) == 1
	}, "indexed")
	before := snapshot()

	// vod search reindex rebuilds the same index (the server is stopped: it holds the index lock).
	require.NoError(t, a.stop())
	require.NoError(t, RunIO(context.Background(), []string{"vod", "search", "reindex"}, func(k string) string { return a.Env[k] }, nil, io.Discard, io.Discard))
	a = start(t, a.Env)
	require.Equal(t, before, snapshot(), "same results after reindex")

	// An index written by another version (another document layout) is set aside and rebuilt.
	require.NoError(t, a.stop())
	idxDir := filepath.Join(a.Env["VOD_DATA_DIR"], "search")
	old, err := bleve.Open(idxDir)
	require.NoError(t, err)
	require.NoError(t, old.SetInternal([]byte("schema"), []byte("0")))
	require.NoError(t, old.Close())
	a = start(t, a.Env)
	a.eventually(20*time.Second, func() bool { return a.do("GET", "/api/v1/search?q=picnic", nil, c.tok).Status == 200 }, "rebuilt")
	require.Equal(t, before, snapshot(), "same results after an upgrade rebuild")

	// A torn index is moved aside and rebuilt; search answers 503 meanwhile, never a crash.
	require.NoError(t, a.stop())
	require.NoError(t, filepath.Walk(idxDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			return os.WriteFile(p, []byte("torn"), 0o644)
		}
		return err
	}))
	a = start(t, a.Env)
	a.eventually(20*time.Second, func() bool {
		r := a.do("GET", "/api/v1/search?q=picnic", nil, c.tok)
		if r.Status == 503 {
			require.Equal(t, "search_unavailable", r.errCode(t))
			return false
		}
		return r.Status == 200
	}, "rebuilt")
	require.Equal(t, before, snapshot(), "same results after recovery")
	matches, _ := filepath.Glob(idxDir + ".broken-*")
	require.Len(t, matches, 2, "the old and the torn index were kept aside")
}

// TestSearchTwoProcesses runs two API processes on one database, each with its own index: a change
// made through one is found through the other.
func TestSearchTwoProcesses(t *testing.T) {
	t.Parallel()
	if !testenv.Postgres() {
		t.Skip("scale-out runs on PostgreSQL")
	}
	a := setup(t)
	env2 := map[string]string{}
	for k, v := range a.Env {
		env2[k] = v
	}
	env2["VOD_DATA_DIR"] = t.TempDir()
	env2["VOD_HTTP_ADDR_FILE"] = filepath.Join(env2["VOD_DATA_DIR"], "addr")
	env2["VOD_ROLE"] = "api"
	env2["VOD_MEDIA_SIGNING_KEY"] = "shared-secret-for-both"
	env2["VOD_AUTH_KEY_FILES"] = filepath.Join(a.Env["VOD_DATA_DIR"], "keys", "signing.jwk")
	a.Env["VOD_MEDIA_SIGNING_KEY"] = "shared-secret-for-both"
	if a.Env["VOD_STORAGE_BACKEND"] != "s3" {
		env2["VOD_STORAGE_LOCAL_DIR"] = filepath.Join(a.Env["VOD_DATA_DIR"], "media")
	}
	a = a.restart()
	b := start(t, env2)
	c := seedSearch(t, a)
	b.eventually(5*time.Second, func() bool { return len(hitIDs(b.search(c.tok, "picnic"))) == 1 }, "second process indexed the first's video")
	require.Equal(t, 200, b.do("PATCH", "/api/v1/videos/"+c.travel, map[string]any{"title": "Horse trek"}, c.tok).Status)
	a.eventually(time.Second, func() bool { return len(hitIDs(a.search(c.tok, "trek"))) == 1 }, "first process saw the second's edit")
	require.True(t, strings.HasPrefix(b.URL, "http://"))
}
