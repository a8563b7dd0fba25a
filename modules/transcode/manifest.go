package transcode

import (
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"vod/app/vodtype"
)

type mpdDoc struct {
	Periods []struct {
		Sets []struct {
			ContentType string `xml:"contentType,attr"`
			Reps        []struct {
				ID       string `xml:"id,attr"`
				MimeType string `xml:"mimeType,attr"`
				Codecs   string `xml:"codecs,attr"`
				Width    int    `xml:"width,attr"`
				Height   int    `xml:"height,attr"`
			} `xml:"Representation"`
		} `xml:"AdaptationSet"`
	} `xml:"Period"`
}

// MeasureTracks reads the representations of ffmpeg's MPD and measures each one's real average and
// peak (per segment) bitrate from the segment files in dir.
func MeasureTracks(dir string, mpd []byte, duration float64, segSec int, fps float64) ([]vodtype.Track, error) {
	var doc mpdDoc
	if err := xml.Unmarshal(mpd, &doc); err != nil {
		return nil, fmt.Errorf("parse mpd: %w", err)
	}
	var out []vodtype.Track
	for _, p := range doc.Periods {
		for _, set := range p.Sets {
			for _, r := range set.Reps {
				kind := "video"
				if strings.HasPrefix(r.MimeType, "audio/") || set.ContentType == "audio" {
					kind = "audio"
				}
				segs, _ := filepath.Glob(filepath.Join(dir, "seg-"+r.ID+"-*.m4s"))
				sort.Strings(segs)
				if len(segs) == 0 {
					return nil, fmt.Errorf("representation %s has no segments", r.ID)
				}
				var total, peak float64
				for i, s := range segs {
					fi, err := os.Stat(s)
					if err != nil {
						return nil, err
					}
					d := float64(segSec)
					if i == len(segs)-1 {
						d = duration - float64(segSec*(len(segs)-1))
					}
					// A very short last segment would overstate the peak.
					d = math.Max(d, 1)
					bits := float64(fi.Size()) * 8
					total += bits
					peak = math.Max(peak, bits/d)
				}
				t := vodtype.Track{ID: r.ID, Kind: kind, Width: r.Width, Height: r.Height, Codecs: r.Codecs,
					Peak: int(math.Ceil(peak)), Average: int(math.Ceil(total / math.Max(duration, 0.001)))}
				if kind == "video" {
					t.FrameRate = fps
				}
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// StoryboardVTT maps time ranges to tiles of the storyboard sprite for scrub previews.
func StoryboardVTT(sb Storyboard, image string, duration float64) []byte {
	var b strings.Builder
	b.WriteString("WEBVTT\n\n")
	for i := 0; i < sb.Count; i++ {
		start := float64(i) * sb.Interval
		if start >= duration {
			break
		}
		end := math.Min(start+sb.Interval, duration)
		x, y := (i%sb.Columns)*sb.Width, (i/sb.Columns)*sb.Height
		fmt.Fprintf(&b, "%s --> %s\n%s#xywh=%d,%d,%d,%d\n\n", vodtype.VTTTime(start), vodtype.VTTTime(end), image, x, y, sb.Width, sb.Height)
	}
	return []byte(b.String())
}
