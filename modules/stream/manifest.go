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
	// Text sets carry no id: dash.js names a subtitle TextTrack after its set's id when there is
	// one (players showed "100"), else after its language.
	for _, sub := range subs {
		fmt.Fprintf(&b, "\t\t<AdaptationSet contentType=\"text\" mimeType=\"text/vtt\" lang=\"%s\">\n", html.EscapeString(sub.Lang))
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

// hlsMaster writes the HLS multivariant playlist with the subtitle tracks' playlists.
func hlsMaster(tracks []vodtype.Track, subs []subtitleRef) []byte {
	var hs []vodtype.HLSSubtitle
	for _, s := range subs {
		hs = append(hs, vodtype.HLSSubtitle{Lang: s.Lang, Label: s.Label, URI: strings.TrimSuffix(s.Path, ".vtt") + ".m3u8"})
	}
	return vodtype.HLSMaster(tracks, hs)
}

// subtitlePlaylist is the one-segment HLS media playlist around a WebVTT file.
func subtitlePlaylist(vttName string, duration float64) []byte {
	d := math.Ceil(math.Max(duration, 1))
	return []byte(fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:%.3f,\n%s\n#EXT-X-ENDLIST\n",
		int(d), duration, vttName))
}
