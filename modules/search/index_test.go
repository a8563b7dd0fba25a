package search

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"vod/app/vodtype"
)

// TestCuePositions checks that a match names the right cue when tracks share a field: text_std
// holds every track's cues, and Polish and Czech (no analyser of their own) share it too.
func TestCuePositions(t *testing.T) {
	t.Parallel()
	idx, err := newIndex(filepath.Join(t.TempDir(), "idx"))
	require.NoError(t, err)
	t.Cleanup(func() { idx.Close() })
	s := &Service{catalog: benchCatalog{}}
	s.setIndex(idx)
	s.ready.Store(true)

	v := vodtype.SearchVideo{ID: "v1", Title: "Walk", Visibility: vodtype.Public, Status: vodtype.StatusReady}
	doc := videoDoc(v, []Track{
		{Lang: "pl", Cues: []vodtype.Cue{{Start: 1, End: 2, Text: "dzień dobry"}, {Start: 3, End: 4, Text: "rzeka płynie"}}},
		{Lang: "en", Cues: []vodtype.Cue{{Start: 5, End: 6, Text: "the river flows"}}},
		{Lang: "cs", Cues: []vodtype.Cue{{Start: 7, End: 8, Text: "řeka teče"}, {Start: 9, End: 10, Text: "rzeka"}}},
		{Lang: "fr", Cues: []vodtype.Cue{{Start: 11, End: 12, Text: "la rivière coule"}}},
	})
	require.NoError(t, idx.Index(v.ID, doc))

	cases := []struct {
		q, lang string
		want    []Cue
	}{
		{"rzeka", "", []Cue{{Lang: "pl", Start: 3, End: 4, Text: "rzeka płynie"}, {Lang: "cs", Start: 9, End: 10, Text: "rzeka"}}},
		{"rzeka", "cs", []Cue{{Lang: "cs", Start: 9, End: 10, Text: "rzeka"}}},
		{"rivers", "", []Cue{{Lang: "en", Start: 5, End: 6, Text: "the river flows"}}},
		{"rivières", "fr", []Cue{{Lang: "fr", Start: 11, End: 12, Text: "la rivière coule"}}},
		{`"river flows"`, "", []Cue{{Lang: "en", Start: 5, End: 6, Text: "the river flows"}}},
		{"teče", "", []Cue{{Lang: "cs", Start: 7, End: 8, Text: "řeka teče"}}},
	}
	for _, tc := range cases {
		res, err := s.Search(context.Background(), Request{Q: tc.q, Lang: tc.lang, Scope: "subtitles", Limit: 10, Admin: true})
		require.NoError(t, err, tc.q)
		require.Len(t, res.Items, 1, tc.q)
		require.Equal(t, tc.want, res.Items[0].Cues, "%s lang=%q", tc.q, tc.lang)
		require.Empty(t, res.Items[0].Highlights["title"], "no highlight where the title did not match")
	}
	res, err := s.Search(context.Background(), Request{Q: "płynie", Lang: "cs", Scope: "subtitles", Limit: 10, Admin: true})
	require.NoError(t, err)
	require.Empty(t, res.Items, "the Polish word is not in the Czech track")
}
