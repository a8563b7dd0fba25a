package vodtype

import (
	"fmt"
	"slices"
	"strings"
)

// HLSSubtitle is a subtitle track of an HLS multivariant playlist; URI is its media playlist,
// relative to the multivariant one.
type HLSSubtitle struct {
	Lang, Label, URI string
}

func hlsQuote(s string) string { return strings.NewReplacer(`"`, "'", "\n", " ", "\r", " ").Replace(s) }

// HLSMaster writes the HLS multivariant playlist over the media playlists media_ID.m3u8, with
// BANDWIDTH from measured peaks and a SUBTITLES group. The final playlist (stream) and the one of
// a video still processing (transcode) are the same document.
func HLSMaster(tracks []Track, subs []HLSSubtitle) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	// Every stereo audio track is a rendition of group "aud"; the first (the source's default) is
	// the default. Multichannel renditions make a second group, "aud-mc", completed with the
	// stereo tracks of the languages that have none, and every video variant is listed once per
	// group: players that cannot play 5.1 keep to the first (Apple's authoring guidance).
	var stereo, multi []Track
	for _, t := range tracks {
		if t.Kind != "audio" {
			continue
		}
		if t.Channels > 2 {
			multi = append(multi, t)
		} else {
			stereo = append(stereo, t)
		}
	}
	type group struct {
		id     string
		tracks []Track
		peak   *Track // the variants' bandwidth counts the largest
	}
	groups := []group{{id: "aud", tracks: stereo}}
	if len(multi) > 0 && len(stereo) > 0 {
		g := group{id: "aud-mc", tracks: multi}
		for _, st := range stereo {
			if !slices.ContainsFunc(multi, func(m Track) bool { return m.Lang == st.Lang }) {
				g.tracks = append(g.tracks, st)
			}
		}
		groups = append(groups, g)
	}
	for gi := range groups {
		g := &groups[gi]
		for i, t := range g.tracks {
			if g.peak == nil || t.Peak > g.peak.Peak {
				g.peak = &g.tracks[i]
			}
			name := t.Label
			if name == "" {
				name = "audio"
			}
			fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"%s\",NAME=\"%s\",", g.id, hlsQuote(name))
			if t.Lang != "" && t.Lang != "und" {
				fmt.Fprintf(&b, "LANGUAGE=\"%s\",", hlsQuote(t.Lang))
			}
			fmt.Fprintf(&b, "DEFAULT=%s,AUTOSELECT=YES,CHANNELS=\"%d\",URI=\"media_%s.m3u8\"\n", yesNo(i == 0), max(t.Channels, 2), t.ID)
		}
	}
	for _, s := range subs {
		fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"%s\",LANGUAGE=\"%s\",DEFAULT=NO,AUTOSELECT=YES,URI=\"%s\"\n",
			hlsQuote(s.Label), hlsQuote(s.Lang), hlsQuote(s.URI))
	}
	for _, g := range groups {
		for _, t := range tracks {
			if t.Kind != "video" {
				continue
			}
			peak, avg, codecs := t.Peak, t.Average, t.Codecs
			if g.peak != nil {
				peak += g.peak.Peak
				avg += g.peak.Average
				codecs += "," + g.peak.Codecs
			}
			fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d,CODECS=\"%s\"", peak, avg, t.Width, t.Height, codecs)
			if t.FrameRate > 0 {
				fmt.Fprintf(&b, ",FRAME-RATE=%.3f", t.FrameRate)
			}
			if g.peak != nil {
				fmt.Fprintf(&b, `,AUDIO="%s"`, g.id)
			}
			if len(subs) > 0 {
				b.WriteString(`,SUBTITLES="subs"`)
			}
			fmt.Fprintf(&b, "\nmedia_%s.m3u8\n", t.ID)
		}
	}
	return []byte(b.String())
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}
