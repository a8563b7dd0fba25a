package vodtype

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Cue is one timed subtitle line.
type Cue struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Text  string  `json:"text"`
}

var timingRe = regexp.MustCompile(`^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})`)

func parseTime(s string) (float64, bool) {
	s = strings.Replace(s, ",", ".", 1)
	parts := strings.Split(s, ":")
	var total float64
	for _, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, false
		}
		total = total*60 + v
	}
	return total, true
}

// ParseCues reads SRT or WebVTT text into cues, in file order. It fails when the text is not UTF-8
// or holds no cue.
func ParseCues(raw []byte) ([]Cue, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(raw) {
		return nil, errors.New("subtitles must be UTF-8 text")
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\r", "\n")
	var cues []Cue
	for _, block := range strings.Split(text, "\n\n") {
		lines := strings.Split(strings.Trim(block, "\n"), "\n")
		for i, l := range lines {
			m := timingRe.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			start, ok1 := parseTime(m[1])
			end, ok2 := parseTime(m[2])
			if !ok1 || !ok2 || end < start {
				break
			}
			body := strings.TrimSpace(strings.Join(lines[i+1:], "\n"))
			if body != "" {
				cues = append(cues, Cue{Start: start, End: end, Text: body})
			}
			break
		}
	}
	if len(cues) == 0 {
		return nil, errors.New("no subtitle cue found: expected SRT or WebVTT")
	}
	return cues, nil
}

// WriteVTT renders cues as WebVTT.
func WriteVTT(cues []Cue) []byte {
	var b strings.Builder
	b.WriteString("WEBVTT\n\n")
	for _, c := range cues {
		fmt.Fprintf(&b, "%s --> %s\n%s\n\n", VTTTime(c.Start), VTTTime(c.End), strings.ReplaceAll(c.Text, "-->", "->"))
	}
	return []byte(b.String())
}

// VTTTime formats seconds as HH:MM:SS.mmm.
func VTTTime(sec float64) string {
	ms := int64(math.Round(sec * 1000))
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

var tagRe = regexp.MustCompile(`</?[a-zA-Z][^>]*>|\{\\[^}]*\}`)

// PlainText strips WebVTT/SRT inline markup (<i>, <c.x>, {\an8}) for indexing and translation.
func PlainText(s string) string {
	s = tagRe.ReplaceAllString(s, "")
	r := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&nbsp;", " ", "\n", " ")
	return strings.Join(strings.Fields(r.Replace(s)), " ")
}
