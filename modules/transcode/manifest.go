package transcode

import (
	"fmt"
	"math"
	"strings"
	"vod/app/vodtype"
)

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

// buildBaseMPD writes the static MPD of a finished encode: one SegmentTemplate with a
// SegmentTimeline of the segments' real durations per representation, and a presentation duration
// rounded up, never down, so that players ask for the last segment. Bandwidths are placeholders
// the catalog replaces with measured ones when it publishes; subtitles are added there too.
func buildBaseMPD(video []*trackResult, audio *trackResult, rends []Rendition, duration float64, segSec int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT%.3fS" minBufferTime="PT%dS">
	<Period id="0" start="PT0.0S">
`, math.Ceil(duration*1000)/1000, segSec)
	maxW, maxH := 0, 0
	for _, r := range rends {
		maxW, maxH = max(maxW, r.Width), max(maxH, r.Height)
	}
	fmt.Fprintf(&b, "\t\t<AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\" maxWidth=\"%d\" maxHeight=\"%d\">\n", maxW, maxH)
	for i, t := range video {
		fmt.Fprintf(&b, "\t\t\t<Representation id=\"%s\" bandwidth=\"1\" codecs=\"%s\" width=\"%d\" height=\"%d\" sar=\"1:1\">\n", t.ID, t.Codecs, rends[i].Width, rends[i].Height)
		writeTemplate(&b, t)
		b.WriteString("\t\t\t</Representation>\n")
	}
	b.WriteString("\t\t</AdaptationSet>\n")
	if audio != nil {
		b.WriteString("\t\t<AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">\n")
		fmt.Fprintf(&b, "\t\t\t<Representation id=\"%s\" bandwidth=\"1\" codecs=\"%s\" audioSamplingRate=\"48000\">\n", audio.ID, audio.Codecs)
		b.WriteString("\t\t\t\t<AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"2\"/>\n")
		writeTemplate(&b, audio)
		b.WriteString("\t\t\t</Representation>\n\t\t</AdaptationSet>\n")
	}
	b.WriteString("\t</Period>\n</MPD>\n")
	return []byte(b.String())
}

func writeTemplate(b *strings.Builder, t *trackResult) {
	fmt.Fprintf(b, "\t\t\t\t<SegmentTemplate timescale=\"%d\" initialization=\"init-$RepresentationID$.m4s\" media=\"seg-$RepresentationID$-$Number%%05d$.m4s\" startNumber=\"1\">\n\t\t\t\t\t<SegmentTimeline>\n", t.Timescale)
	var at uint64
	for i := 0; i < len(t.Segments); {
		d := t.Segments[i].Duration
		r := 0
		for i+r+1 < len(t.Segments) && t.Segments[i+r+1].Duration == d {
			r++
		}
		if i == 0 {
			fmt.Fprintf(b, "\t\t\t\t\t\t<S t=\"%d\" d=\"%d\"", at, d)
		} else {
			fmt.Fprintf(b, "\t\t\t\t\t\t<S d=\"%d\"", d)
		}
		if r > 0 {
			fmt.Fprintf(b, " r=\"%d\"", r)
		}
		b.WriteString("/>\n")
		at += d * uint64(r+1)
		i += r + 1
	}
	b.WriteString("\t\t\t\t\t</SegmentTimeline>\n\t\t\t\t</SegmentTemplate>\n")
}

// buildMediaPlaylist writes a track's HLS media playlist from its segments' real durations.
func buildMediaPlaylist(t *trackResult) []byte {
	var b strings.Builder
	longest := 0.0
	for _, s := range t.Segments {
		longest = math.Max(longest, float64(s.Duration)/float64(t.Timescale))
	}
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init-%s.m4s\"\n",
		int(math.Round(longest+0.4999)), t.ID)
	for _, s := range t.Segments {
		fmt.Fprintf(&b, "#EXTINF:%.6f,\nseg-%s-%05d.m4s\n", float64(s.Duration)/float64(t.Timescale), t.ID, s.Number)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return []byte(b.String())
}
