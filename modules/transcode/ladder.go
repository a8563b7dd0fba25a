package transcode

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Rung is one step of the bitrate ladder: the short side of the picture and its video bitrate.
type Rung struct {
	Short int `json:"short"`
	Kbps  int `json:"kbps"`
}

// ParseLadder reads "360:800,480:1200" (short side:kbps).
func ParseLadder(s string) ([]Rung, error) {
	var out []Rung
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), ":")
		h, err1 := strconv.Atoi(strings.TrimSuffix(a, "p"))
		k, err2 := strconv.Atoi(strings.TrimSuffix(b, "k"))
		if !ok || err1 != nil || err2 != nil || h < 16 || h > 8192 || k < 50 || k > 100000 {
			return nil, fmt.Errorf("ladder rung %q: want SHORT_SIDE:KBPS like 720:2400", part)
		}
		if len(out) > 0 && h <= out[len(out)-1].Short {
			return nil, fmt.Errorf("ladder rungs must grow: %q", part)
		}
		out = append(out, Rung{Short: h, Kbps: k})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ladder is empty")
	}
	return out, nil
}

// Rendition is one encoded picture size.
type Rendition struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	Kbps   int `json:"kbps"`
}

func even(x float64) int {
	n := int(math.Round(x/2)) * 2
	return max(n, 2)
}

// PlanLadder picks the rungs for a source without upscaling. The short side decides, so portrait video
// gets the same quality steps as landscape; a source smaller than the lowest rung gets one rung at
// its own (even) size.
func PlanLadder(width, height int, ladder []Rung) []Rendition {
	short, long := height, width
	portrait := height > width
	if portrait {
		short, long = width, height
	}
	var out []Rendition
	for _, r := range ladder {
		if r.Short > short {
			break
		}
		l := even(float64(long) * float64(r.Short) / float64(short))
		s := r.Short
		if s%2 == 1 {
			s--
		}
		if portrait {
			out = append(out, Rendition{Width: s, Height: l, Kbps: r.Kbps})
		} else {
			out = append(out, Rendition{Width: l, Height: s, Kbps: r.Kbps})
		}
	}
	if len(out) == 0 {
		kbps := max(100, ladder[0].Kbps*short/ladder[0].Short)
		out = append(out, Rendition{Width: even(float64(width) - 1), Height: even(float64(height) - 1), Kbps: kbps})
	}
	return out
}
