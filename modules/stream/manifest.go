package stream

import (
	"fmt"
	"html"
	"math"
	"regexp"
	"strings"

	"vod/app/vodtype"
)

// subtitleRef is a WebVTT file listed in the manifests. Path is relative to the manifests.
type subtitleRef struct {
	Lang  string
	Label string
	Path  string
}

var repBandwidthRe = regexp.MustCompile(`(<Representation id="([^"]+)"[^>]*?bandwidth=")(\d+)(")`)

// buildMPD returns ffmpeg's MPD with measured bandwidths and a text AdaptationSet per subtitle
// language (ffmpeg cannot mux WebVTT into DASH).
func buildMPD(base []byte, tracks []vodtype.Track, subs []subtitleRef) []byte {
	byID := map[string]vodtype.Track{}
	for _, t := range tracks {
		byID[t.ID] = t
	}
	s := repBandwidthRe.ReplaceAllStringFunc(string(base), func(m string) string {
		g := repBandwidthRe.FindStringSubmatch(m)
		if t, ok := byID[g[2]]; ok {
			return g[1] + fmt.Sprint(t.Average) + g[4]
		}
		return m
	})
	var b strings.Builder
	for i, sub := range subs {
		fmt.Fprintf(&b, "\t\t<AdaptationSet id=\"%d\" contentType=\"text\" mimeType=\"text/vtt\" lang=\"%s\">\n", 100+i, html.EscapeString(sub.Lang))
		b.WriteString("\t\t\t<Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"subtitle\"/>\n")
		fmt.Fprintf(&b, "\t\t\t<Label>%s</Label>\n", html.EscapeString(sub.Label))
		fmt.Fprintf(&b, "\t\t\t<Representation id=\"sub-%s\" bandwidth=\"256\">\n", html.EscapeString(sub.Lang))
		fmt.Fprintf(&b, "\t\t\t\t<BaseURL>%s</BaseURL>\n", html.EscapeString(sub.Path))
		b.WriteString("\t\t\t</Representation>\n\t\t</AdaptationSet>\n")
	}
	if i := strings.LastIndex(s, "</Period>"); i >= 0 {
		s = s[:i] + b.String() + "\t" + s[i:]
	}
	return []byte(s)
}

func quote(s string) string { return strings.NewReplacer(`"`, "'", "\n", " ", "\r", " ").Replace(s) }

// buildHLSMaster writes the HLS multivariant playlist over ffmpeg's media playlists (media_ID.m3u8),
// with BANDWIDTH from measured peaks, and a SUBTITLES group.
func buildHLSMaster(tracks []vodtype.Track, subs []subtitleRef) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	var audio *vodtype.Track
	for i := range tracks {
		if tracks[i].Kind == "audio" {
			audio = &tracks[i]
			fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,URI=\"media_%s.m3u8\"\n", tracks[i].ID)
			break
		}
	}
	for _, s := range subs {
		fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"%s\",LANGUAGE=\"%s\",DEFAULT=NO,AUTOSELECT=YES,URI=\"%s\"\n",
			quote(s.Label), quote(s.Lang), quote(strings.TrimSuffix(s.Path, ".vtt")+".m3u8"))
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

// subtitlePlaylist is the one-segment HLS media playlist around a WebVTT file.
func subtitlePlaylist(vttName string, duration float64) []byte {
	d := math.Ceil(math.Max(duration, 1))
	return []byte(fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:%.3f,\n%s\n#EXT-X-ENDLIST\n",
		int(d), duration, vttName))
}
