package transcode

import (
	"math"
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

// TestChunkStills: the chunks share the storyboard's thumbnails between them, each once, at the
// frame of its time counted from the chunk's first frame, and exactly one chunk takes the poster.
func TestChunkStills(t *testing.T) {
	for _, tc := range []struct {
		duration, fps float64
		chunk, seg    int
		slots         int
	}{{12, 30, 4, 2, 1}, {60.033, 29.97, 20, 4, 2}, {7.5, 25, 4, 4, 2}, {250, 30, 20, 4, 3}} {
		p := &Probe{Duration: tc.duration, FPS: tc.fps, Width: 640, Height: 360}
		sb := (&EncodeSpec{Probe: p, ThumbWidth: 160}).storyboard()
		posterAt := (&EncodeSpec{Probe: p}).posterAt()
		next, posters := 0, 0
		for _, c := range planChunks(tc.duration, tc.chunk, tc.seg, tc.slots) {
			thumbs, from, poster := chunkStills(sb, posterAt, tc.fps, tc.duration, c)
			if len(thumbs) > 0 && from != next {
				t.Fatalf("%v chunk %d: thumbnails from %d, want %d", tc, c.Index, from, next)
			}
			first := math.Ceil(c.Start*tc.fps - 1e-6)
			for k, n := range thumbs {
				at := float64(next+k) * sb.Interval
				if want := int(math.Ceil(at*tc.fps-1e-6) - first); n != want || n < 0 {
					t.Fatalf("%v chunk %d: thumbnail %d at frame %d, want %d", tc, c.Index, next+k, n, want)
				}
			}
			next += len(thumbs)
			if poster >= 0 {
				posters++
				if poster > c.Duration {
					t.Fatalf("%v chunk %d: poster %.2fs into a %.2fs chunk", tc, c.Index, poster, c.Duration)
				}
			}
		}
		want := int(math.Min(float64(sb.Count), math.Ceil(tc.duration/sb.Interval)))
		if next != want || posters != 1 {
			t.Fatalf("%v: %d thumbnails (want %d), %d posters", tc, next, want, posters)
		}
	}
}
