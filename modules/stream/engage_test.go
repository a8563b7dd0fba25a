package stream

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func encodePNG(t *testing.T, w, h int, transparent bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	if !transparent {
		for y := range h {
			for x := range w {
				img.Set(x, y, color.NRGBA{10, 200, 10, 255})
			}
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// reencodePoster keeps nothing of the upload but its pixels: the output is always a new JPEG that
// fits 1920x1080, and what cannot be a thumbnail is refused with a reason.
func TestReencodePoster(t *testing.T) {
	cases := []struct {
		name   string
		in     []byte
		w, h   int
		reason string
	}{
		{"small stays", encodePNG(t, 100, 50, false), 100, 50, ""},
		{"wide fits width", encodePNG(t, 4000, 1000, false), 1920, 480, ""},
		{"tall fits height", encodePNG(t, 500, 2160, false), 250, 1080, ""},
		{"too small", encodePNG(t, 15, 200, false), 0, 0, "at least 16x16"},
		{"not an image", []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), 0, 0, "not a JPEG or PNG"},
		{"gif", []byte("GIF89a\x10\x00\x10\x00\x00\x00\x00;"), 0, 0, "not a JPEG or PNG"},
		{"truncated", encodePNG(t, 64, 64, false)[:60], 0, 0, "damaged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := reencodePoster(c.in)
			if c.reason != "" {
				var inv *InvalidImageError
				require.True(t, errors.As(err, &inv), "%v", err)
				require.Contains(t, inv.Reason, c.reason)
				return
			}
			require.NoError(t, err)
			img, err := jpeg.Decode(bytes.NewReader(out))
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, c.w, c.h), img.Bounds())
		})
	}
	// Transparent areas turn white, not black.
	out, err := reencodePoster(encodePNG(t, 32, 32, true))
	require.NoError(t, err)
	img, err := jpeg.Decode(bytes.NewReader(out))
	require.NoError(t, err)
	r, g, b, _ := img.At(16, 16).RGBA()
	require.Greater(t, r>>8+g>>8+b>>8, uint32(700))

	_, err = ReadPoster(strings.NewReader(strings.Repeat("x", MaxPosterBytes+1)))
	require.ErrorIs(t, err, ErrPosterTooBig)
	raw, err := ReadPoster(strings.NewReader("abc"))
	require.NoError(t, err)
	require.Equal(t, "abc", string(raw))
}
