package transcode

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlanLadder(t *testing.T) {
	t.Parallel()
	def, err := ParseLadder("360:800,480:1200,720:2400,1080:4800")
	require.NoError(t, err)
	cases := []struct {
		w, h int
		want []Rendition
	}{
		{1920, 1080, []Rendition{{640, 360, 800}, {854, 480, 1200}, {1280, 720, 2400}, {1920, 1080, 4800}}},
		{1280, 720, []Rendition{{640, 360, 800}, {854, 480, 1200}, {1280, 720, 2400}}},
		{1080, 1920, []Rendition{{360, 640, 800}, {480, 854, 1200}, {720, 1280, 2400}, {1080, 1920, 4800}}},
		{1000, 800, []Rendition{{450, 360, 800}, {600, 480, 1200}, {900, 720, 2400}}},
		{321, 241, []Rendition{{320, 240, 535}}},
		{2, 2, []Rendition{{2, 2, 100}}},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, PlanLadder(tc.w, tc.h, def), "%dx%d", tc.w, tc.h)
	}
	for _, bad := range []string{"", "abc", "720:2400,360:800", "10:800", "360:1"} {
		_, err := ParseLadder(bad)
		require.Error(t, err, bad)
	}
}
