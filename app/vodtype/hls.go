package vodtype

import (
	"fmt"
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
	// Every audio track is a rendition of one group; the first (the source's default) is the
	// default. The variants' bandwidth counts the largest.
	var audio *Track
	first := true
	for i := range tracks {
		t := tracks[i]
		if t.Kind != "audio" {
			continue
		}
		if audio == nil || t.Peak > audio.Peak {
			audio = &tracks[i]
		}
		name, dflt := t.Label, first
		if name == "" {
			name = "audio"
		}
		first = false
		fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"%s\",", hlsQuote(name))
		if t.Lang != "" && t.Lang != "und" {
			fmt.Fprintf(&b, "LANGUAGE=\"%s\",", hlsQuote(t.Lang))
		}
		fmt.Fprintf(&b, "DEFAULT=%s,AUTOSELECT=YES,URI=\"media_%s.m3u8\"\n", yesNo(dflt), t.ID)
	}
	for _, s := range subs {
		fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"%s\",LANGUAGE=\"%s\",DEFAULT=NO,AUTOSELECT=YES,URI=\"%s\"\n",
			hlsQuote(s.Label), hlsQuote(s.Lang), hlsQuote(s.URI))
	}
	for _, t := range tracks {
		if t.Kind != "video" {
			continue
		}
		peak, avg, codecs := t.Peak, t.Average, t.Codecs
		if audio != nil {
			peak += audio.Peak
			avg += audio.Average
			codecs += "," + audio.Codecs
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d,CODECS=\"%s\"", peak, avg, t.Width, t.Height, codecs)
		if t.FrameRate > 0 {
			fmt.Fprintf(&b, ",FRAME-RATE=%.3f", t.FrameRate)
		}
		if audio != nil {
			b.WriteString(`,AUDIO="aud"`)
		}
		if len(subs) > 0 {
			b.WriteString(`,SUBTITLES="subs"`)
		}
		fmt.Fprintf(&b, "\nmedia_%s.m3u8\n", t.ID)
	}
	return []byte(b.String())
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}
