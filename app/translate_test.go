package app

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"

	"vod/app/vodtype"
)

func TestTranslationWithApertium(t *testing.T) {
	t.Parallel()
	apy := os.Getenv("VOD_TEST_APERTIUM_URL")
	if apy == "" {
		t.Skip("no Apertium server in this run (scripts/services.sh starts one)")
	}
	a := setup(t, map[string]string{"VOD_TRANSLATE_PROVIDER": "apertium", "VOD_TRANSLATE_URL": apy, "VOD_TRANSLATE_TARGETS": "es,bn"})
	tok := a.token("polyglot")
	v := a.uploadReady(tok, clip(t, "mkv-subs"), map[string]string{"title": "Translated clip"})
	id := v.Id
	var es *apiclient.Subtitle
	a.eventually(60*time.Second, func() bool {
		v = *a.video(id, tok)
		for _, s := range deref(v.Subtitles) {
			if s.Lang == "es" {
				es = &s
			}
		}
		hasNote := false
		for _, n := range deref(v.Notes) {
			hasNote = hasNote || n == "translation to bn not available from apertium"
		}
		return es != nil && hasNote
	}, "Spanish track and a note for Bengali")
	require.Equal(t, apiclient.Translated, es.Source)
	require.Equal(t, "Español", es.Label)

	enCues, err := vodtype.ParseCues(a.do("GET", deref(v.Subtitles)[0].Url, nil, "").Body)
	require.NoError(t, err)
	esCues, err := vodtype.ParseCues(a.do("GET", es.Url, nil, "").Body)
	require.NoError(t, err)
	require.Len(t, esCues, len(enCues))
	for i := range enCues {
		require.Equal(t, enCues[i].Start, esCues[i].Start, "timing kept")
		require.Equal(t, enCues[i].End, esCues[i].End)
		require.NotEqual(t, enCues[i].Text, esCues[i].Text, "translated")
	}
	require.Contains(t, strings.ToLower(esCues[0].Text), "hola")
	mpd := string(a.do("GET", dashOf(v), nil, "").Body)
	require.Contains(t, mpd, `lang="es"`)
	require.Contains(t, string(a.do("GET", hlsOf(v), nil, "").Body), `LANGUAGE="es"`)

	// Search finds a Spanish word of the translated track.
	a.eventually(5*time.Second, func() bool {
		res := a.search(tok, "hola", "lang", "es")
		return len(hitIDs(res)) == 1
	}, "Spanish track indexed")

	// On demand: English to Spanish again is fine, bad requests are refused.
	other := a.token("outsider")
	require.Equal(t, 403, a.do("POST", "/api/v1/videos/"+id+"/subtitles/en/translations", map[string]string{"target": "es"}, other).Status)
	require.Equal(t, 422, a.do("POST", "/api/v1/videos/"+id+"/subtitles/en/translations", map[string]string{"target": "en"}, tok).Status)
	require.Equal(t, 404, a.do("POST", "/api/v1/videos/"+id+"/subtitles/de/translations", map[string]string{"target": "es"}, tok).Status)
	r := a.do("POST", "/api/v1/videos/"+id+"/subtitles/en/translations", map[string]string{"target": "es"}, tok)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	require.Equal(t, "apertium", r.JSON(t)["translation"].(map[string]any)["provider"])
}

func TestTranslationNotConfigured(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("mono")
	v := a.uploadReady(tok, clip(t, "mkv-subs"), nil)
	r := a.do("POST", "/api/v1/videos/"+v.Id+"/subtitles/en/translations", map[string]string{"target": "es"}, tok)
	require.Equal(t, 409, r.Status)
	require.Equal(t, "translation_unavailable", r.errCode(t))
	_, err := loadFor(t, nil, map[string]string{"VOD_TRANSLATE_PROVIDER": "apertium"})
	require.ErrorContains(t, err, "translate.url")
}
