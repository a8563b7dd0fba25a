package app

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	id := str(v["id"])
	var es map[string]any
	a.eventually(60*time.Second, func() bool {
		v = a.do("GET", "/api/v1/videos/"+id, nil, tok).JSON(t)["video"].(map[string]any)
		for _, s := range v["subtitles"].([]any) {
			if sm := s.(map[string]any); sm["lang"] == "es" {
				es = sm
			}
		}
		notes, _ := v["notes"].([]any)
		hasNote := false
		for _, n := range notes {
			hasNote = hasNote || n == "translation to bn not available from apertium"
		}
		return es != nil && hasNote
	}, "Spanish track and a note for Bengali")
	require.Equal(t, "translated", es["source"])
	require.Equal(t, "Español", es["label"])

	enCues, err := vodtype.ParseCues(a.do("GET", str(v["subtitles"].([]any)[0].(map[string]any)["url"]), nil, "").Body)
	require.NoError(t, err)
	esCues, err := vodtype.ParseCues(a.do("GET", str(es["url"]), nil, "").Body)
	require.NoError(t, err)
	require.Len(t, esCues, len(enCues))
	for i := range enCues {
		require.Equal(t, enCues[i].Start, esCues[i].Start, "timing kept")
		require.Equal(t, enCues[i].End, esCues[i].End)
		require.NotEqual(t, enCues[i].Text, esCues[i].Text, "translated")
	}
	require.Contains(t, strings.ToLower(esCues[0].Text), "hola")
	mpd := string(a.do("GET", str(v["playback"].(map[string]any)["dash"]), nil, "").Body)
	require.Contains(t, mpd, `lang="es"`)
	require.Contains(t, string(a.do("GET", str(v["playback"].(map[string]any)["hls"]), nil, "").Body), `LANGUAGE="es"`)

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
	r := a.do("POST", "/api/v1/videos/"+str(v["id"])+"/subtitles/en/translations", map[string]string{"target": "es"}, tok)
	require.Equal(t, 409, r.Status)
	require.Equal(t, "translation_unavailable", r.errCode(t))
	_, err := loadFor(t, nil, map[string]string{"VOD_TRANSLATE_PROVIDER": "apertium"})
	require.ErrorContains(t, err, "translate.url")
}
