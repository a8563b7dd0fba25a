// Package vodtype holds the plain data types that cross module boundaries in the video pipeline
// (the way rivertype does for River): what upload hands to the catalog, what the transcoder
// publishes, the storage key layout, the validation error every module returns, and the language
// and WebVTT helpers several modules share.
package vodtype

import (
	"errors"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Visibility values.
const (
	Public   = "public"
	Unlisted = "unlisted"
	Private  = "private"
)

// Status values of a video.
const (
	StatusUploading  = "uploading"
	StatusQueued     = "queued"
	StatusProcessing = "processing"
	StatusReady      = "ready"
	StatusFailed     = "failed"
)

// Subtitle sources.
const (
	SourceEmbedded   = "embedded"
	SourceUploaded   = "uploaded"
	SourceTranslated = "translated"
)

// Protection values of a video (issue 18): its segments in the clear, or encrypted with Common
// Encryption under a per-video key handed out by the ClearKey licence endpoint.
const (
	ProtectionNone     = "none"
	ProtectionClearKey = "clearkey"
)

// ValidProtection reports whether p is a protection value.
func ValidProtection(p string) bool { return p == ProtectionNone || p == ProtectionClearKey }

// ProtectionMessage is the field error for an unknown protection.
const ProtectionMessage = "must be none or clearkey"

// NewVideo is a video row as upload creates it.
type NewVideo struct {
	ID            string
	OwnerID       string
	OwnerUsername string
	Title         string
	Description   string
	Visibility    string
	Status        string
	SourceKey     string
	SourceName    string
	SourceSize    int64
	// Protection: empty for the configured default.
	Protection string
}

// PipelineVideo is what the transcoder needs to know about a video.
type PipelineVideo struct {
	ID         string
	Status     string
	Generation int
	SourceKey  string
	SourceSize int64
	Duration   float64
	// OwnerID and Visibility authorise owner-only actions on the pipeline (reprocess).
	OwnerID    string
	Visibility string
	// Protection decides whether the encode encrypts the segments.
	Protection string
}

// ProbeInfo is what the probe stage records.
type ProbeInfo struct {
	Duration   float64
	Width      int
	Height     int
	FPS        float64
	VideoCodec string
	AudioCodec string
	Rotation   int
	Size       int64
}

// Track is one encoded representation, with measured bitrates.
type Track struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"` // video or audio
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`
	Codecs    string  `json:"codecs"`
	Peak      int     `json:"bandwidth"`
	Average   int     `json:"average_bandwidth"`
	FrameRate float64 `json:"frame_rate,omitempty"`
	// Audio: the language (BCP 47), the name players show, and whether players start with it.
	Lang    string `json:"lang,omitempty"`
	Label   string `json:"label,omitempty"`
	Default bool   `json:"default,omitempty"`
	// Channels of a multichannel audio rendition (6: 5.1, 8: 7.1); 0 is stereo.
	Channels int `json:"channels,omitempty"`
}

// SubtitleFile is a stored WebVTT track.
type SubtitleFile struct {
	Lang   string
	Label  string
	Source string
	Key    string
}

// Publication is the transcoder's result for one generation of a video. Keys are storage keys.
type Publication struct {
	Generation    int
	Prefix        string // videos/{id}/g{n}/ : every key below lives under it
	BaseMPDKey    string
	Tracks        []Track
	Duration      float64
	PosterKey     string
	StoryboardKey string // the WebVTT thumbnails track
	MP4Key        string
	Subtitles     []SubtitleFile // embedded ones
	Notes         []string
}

var iso6392 = map[string]string{
	"eng": "en", "fre": "fr", "fra": "fr", "spa": "es", "ger": "de", "deu": "de", "ita": "it", "por": "pt",
	"rus": "ru", "jpn": "ja", "chi": "zh", "zho": "zh", "kor": "ko", "ara": "ar", "hin": "hi", "ben": "bn",
	"dut": "nl", "nld": "nl", "swe": "sv", "pol": "pl", "tur": "tr", "ukr": "uk", "cze": "cs", "ces": "cs",
	"gre": "el", "ell": "el", "heb": "he", "dan": "da", "fin": "fi", "nor": "no", "hun": "hu", "rum": "ro",
	"ron": "ro", "tha": "th", "vie": "vi", "ind": "id", "cat": "ca",
}

var languageNames = map[string]string{
	"en": "English", "fr": "Français", "es": "Español", "de": "Deutsch", "it": "Italiano", "pt": "Português",
	"ru": "Русский", "ja": "日本語", "zh": "中文", "ko": "한국어", "ar": "العربية", "hi": "हिन्दी", "bn": "বাংলা",
	"nl": "Nederlands", "sv": "Svenska", "pl": "Polski", "tr": "Türkçe", "uk": "Українська", "cs": "Čeština",
	"el": "Ελληνικά", "he": "עברית", "da": "Dansk", "fi": "Suomi", "no": "Norsk", "hu": "Magyar", "ro": "Română",
	"th": "ไทย", "vi": "Tiếng Việt", "id": "Bahasa Indonesia", "ca": "Català",
}

// LanguageTag turns a container language tag (ISO 639-2 like "eng") into BCP 47 ("en"); an empty
// tag becomes "und".
func LanguageTag(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if t, ok := iso6392[tag]; ok {
		return t
	}
	if tag == "" {
		return "und"
	}
	return tag
}

// BaseLanguage is the primary language of a BCP 47 tag, lower-cased (pt-BR → pt).
func BaseLanguage(tag string) string {
	base, _, _ := strings.Cut(strings.ToLower(tag), "-")
	return base
}

// LanguageLabel is a human name for a BCP 47 tag.
func LanguageLabel(tag string) string {
	if n, ok := languageNames[BaseLanguage(tag)]; ok {
		return n
	}
	if tag == "und" {
		return "Unknown language"
	}
	return tag
}

// ErrNoVideo means the video is gone (deleted while a job or request was in flight).
var ErrNoVideo = errors.New("video not found")

// ErrVideoBusy means the video is being processed, so it cannot be processed again yet.
var ErrVideoBusy = errors.New("the video is still being processed")

// ErrSourceMissing means the original upload is gone, so the video cannot be processed again.
var ErrSourceMissing = errors.New("the original upload is no longer stored")

// FieldErrors is a validation failure: each field at fault with the reason, in words a user reads.
// Every module returns it for invalid input; the HTTP edge answers 422 with the fields.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + f[k]
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// ValidateFields checks a video's editable fields (nil ones are not checked) and trims the title.
// It returns the fields at fault, empty when all is well.
func ValidateFields(title, description, visibility *string) FieldErrors {
	f := FieldErrors{}
	if title != nil {
		*title = strings.TrimSpace(*title)
		if n := utf8.RuneCountInString(*title); n == 0 || n > 200 {
			f["title"] = "must be 1 to 200 characters"
		} else if HasControl(*title, false) {
			f["title"] = ControlMessage
		}
	}
	if description != nil {
		if utf8.RuneCountInString(*description) > 5000 {
			f["description"] = "must be at most 5000 characters"
		} else if HasControl(*description, true) {
			f["description"] = ControlMessage
		}
	}
	if visibility != nil {
		switch *visibility {
		case Public, Unlisted, Private:
		default:
			f["visibility"] = "must be public, unlisted or private"
		}
	}
	return f
}

// ControlMessage is the field error for text with control characters.
const ControlMessage = "must not contain control characters (NUL, ESC, ...), bidirectional overrides (U+202E, ...) or invalid UTF-8"

// isBidiControl: the explicit directional formatting characters (LRE, RLE, PDF, LRO, RLO, LRI,
// RLI, FSI, PDI) and marks (LRM, RLM, ALM). In a title they make "exe.mp4" display as "4pm.exe":
// text a person types never needs them, as the script's own direction is implicit.
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// StripControl removes what HasControl refuses from text taken from a file rather than typed (a
// file name as the default title, a track title in the source): it cannot be sent back to fix.
func StripControl(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || isBidiControl(r) {
			return -1
		}
		return r
	}, s)
}

// HasControl reports whether text holds invalid UTF-8, a control character (C0, DEL, C1), which
// no name or title needs and which terminals, logs and some databases mistreat, or a bidirectional
// formatting character, which spoofs how text displays. multiline allows line breaks and tabs
// (descriptions).
func HasControl(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || isBidiControl(r) {
			return true
		}
	}
	return false
}

// SearchVideo is what search indexes about a video.
type SearchVideo struct {
	ID            string
	Title         string
	Description   string
	OwnerID       string
	OwnerUsername string
	Visibility    string
	Status        string
	CreatedAt     time.Time
	Subtitles     []SubtitleFile
}

var langRe = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8}){0,3}$`)

// ValidLanguage reports whether tag looks like a BCP 47 language tag (en, pt-BR, fr-x-2).
func ValidLanguage(tag string) bool { return langRe.MatchString(tag) }

// Progress is how far a video's processing has come.
type Progress struct {
	Stage    string
	Progress int
}

// ContentKey is a protected video's content key as the licence endpoint hands it out: the key id
// (in the init segments and the MPD) and the AES-128 key.
type ContentKey struct {
	ID  [16]byte
	Key [16]byte
}
