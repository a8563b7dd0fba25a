package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/ar"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/da"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/de"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/es"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/fi"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/fr"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/hi"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/hu"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/it"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/nl"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/no"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/pt"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/ro"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/ru"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/sv"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/tr"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/shingle"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"

	"vod/app/vodtype"
)

// analyzers maps a subtitle language to the Bleve analyzer with its stemming rules; other languages
// use the standard analyzer (field text_std).
var analyzers = map[string]string{
	"en": "en", "fr": "fr", "es": "es", "de": "de", "it": "it", "pt": "pt", "nl": "nl", "ru": "ru", "sv": "sv",
	"da": "da", "fi": "fi", "no": "no", "hu": "hu", "ro": "ro", "tr": "tr", "ar": "ar", "hi": "hi",
	"zh": "cjk", "ja": "cjk", "ko": "cjk",
}

// textField is the cue field that holds text of a language.
func textField(lang string) string {
	if a, ok := analyzers[vodtype.BaseLanguage(lang)]; ok {
		return "text_" + a
	}
	return "text_std"
}

// langField is the field holding only the cues of lang (by its base language): the language's own
// analyser field, or, for languages that share the standard or CJK analyser, a field of their own
// under lang_std or lang_cjk (mapped dynamically with that analyser).
func langField(lang string) string {
	switch f := textField(lang); f {
	case "text_std":
		return "lang_std." + vodtype.BaseLanguage(lang)
	case "text_cjk":
		return "lang_cjk." + vodtype.BaseLanguage(lang)
	default:
		return f
	}
}

// analyzerFor names the analyser a query on field must use where the mapping cannot resolve it: a
// second field of a property, and dynamically mapped fields.
func analyzerFor(field string) string {
	switch {
	case field == "text_sh":
		return bigramAnalyzer
	case strings.HasPrefix(field, "lang_std."):
		return standard.Name
	case strings.HasPrefix(field, "lang_cjk."):
		return "cjk"
	}
	return ""
}

// langFields are the subtitle fields of the languages present in the index, read from the index
// itself: only they are queried. text_std, which holds every cue, is among them only when a
// language without its own analyser is present (it then has a lang_std field).
func langFields(idx bleve.Index) ([]string, error) {
	all, err := idx.Fields()
	if err != nil {
		return nil, err
	}
	var out []string
	std := false
	for _, f := range all {
		switch {
		case f == "text_std" || f == "text_sh":
		case strings.HasPrefix(f, "text_"):
			out = append(out, f)
		case strings.HasPrefix(f, "lang_std.") && !std:
			std = true
			out = append(out, "text_std")
		}
	}
	return out, nil
}

func textFields() []string {
	seen := map[string]bool{}
	out := []string{"text_std"}
	for _, a := range analyzers {
		if !seen[a] {
			seen[a] = true
			out = append(out, "text_"+a)
		}
	}
	return out
}

const bigramAnalyzer = "bigrams"

// schemaVersion names the document layout below; an index written with another layout is rebuilt.
const schemaVersion = "5"

// One document per video: its metadata, and each subtitle track's cues as an array in the field
// of the track's analyser (text_std holds every cue again, unstemmed, for prefix and typo matching).
// A whole video in one document keeps the index at one document per video instead of one per cue,
// so postings lists are as long as the number of videos, results need no grouping, and paging is
// the index's own. The array position of a match names its cue; phrases never cross cues.
func newMapping() mapping.IndexMapping {
	im := bleve.NewIndexMapping()
	im.DefaultAnalyzer = en.AnalyzerName
	// Constant definitions: an error here is a programming error, caught by every test.
	if err := im.AddCustomTokenFilter("pairs", map[string]any{"type": shingle.Name, "min": 2.0, "max": 2.0, "output_original": false, "separator": " ", "filler": ""}); err != nil {
		panic(err)
	}
	if err := im.AddCustomAnalyzer(bigramAnalyzer, map[string]any{"type": custom.Name, "tokenizer": unicode.Name, "token_filters": []string{lowercase.Name, "pairs"}}); err != nil {
		panic(err)
	}
	// Only the lang_std and lang_cjk sub-documents are dynamic; the rest of the mapping is static.
	im.IndexDynamic = true
	im.StoreDynamic = false
	im.DocValuesDynamic = false
	field := func(analyzer string, store, vectors bool) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzer
		f.Store = store
		f.IncludeTermVectors = vectors
		f.IncludeInAll = false
		f.DocValues = false
		return f
	}
	doc := bleve.NewDocumentStaticMapping()
	for _, k := range []string{"owner_id", "hidden", "langs"} {
		doc.AddFieldMappingsAt(k, field(keyword.Name, false, false))
	}
	// Titles and descriptions: stemmed and stored for exact matching and highlights, and plainly
	// (words as written) for typo and prefix matching.
	for _, f := range []string{"title", "description"} {
		plain := field(standard.Name, false, false)
		plain.Name = f + "_std"
		doc.AddFieldMappingsAt(f, field(en.AnalyzerName, true, true), plain)
	}
	doc.AddFieldMappingsAt("owner", field(standard.Name, false, false))
	for _, f := range textFields() {
		if f == "text_std" {
			continue
		}
		doc.AddFieldMappingsAt(f, field(strings.TrimPrefix(f, "text_"), false, true))
	}
	// Subtitle phrases match on word pairs (text_sh): a quoted phrase looks up its pairs instead of
	// checking positions in every video that has all its words, which for common words is nearly all.
	bigrams := field(bigramAnalyzer, false, true)
	bigrams.Name = "text_sh"
	doc.AddFieldMappingsAt("text_std", field(standard.Name, false, true), bigrams)
	for prefix, analyzer := range map[string]string{"lang_std": standard.Name, "lang_cjk": "cjk"} {
		sub := bleve.NewDocumentMapping()
		sub.DefaultAnalyzer = analyzer
		doc.AddSubDocumentMapping(prefix, sub)
	}
	cues := field(keyword.Name, true, false)
	cues.Index = false
	doc.AddFieldMappingsAt("cues", cues)
	im.DefaultMapping = doc
	return im
}

// Track is one subtitle language of a video, as indexed.
type Track struct {
	Lang string
	Cues []vodtype.Cue
}

// The stored "cues" field holds every cue as lang, start, end and text separated by unit
// separators, one record per cue separated by record separators: it is read for every hit on a
// page, and splitting it costs far less than decoding JSON.
const (
	unitSep   = "\x1f"
	recordSep = "\x1e"
)

var controlSeps = strings.NewReplacer(unitSep, " ", recordSep, " ")

// videoDoc is the index document of a ready video. Cues are laid out in track order (tracks sorted
// by language); cueRefs maps a field's array positions back to them the same way.
func videoDoc(v vodtype.SearchVideo, tracks []Track) map[string]any {
	sort.Slice(tracks, func(i, j int) bool { return tracks[i].Lang < tracks[j].Lang })
	doc := map[string]any{"owner_id": v.OwnerID, "title": v.Title, "description": v.Description, "owner": v.OwnerUsername}
	if v.Visibility != vodtype.Public {
		doc["hidden"] = "1"
	}
	var stored []string
	texts := map[string][]string{}
	shared := map[string][]string{} // lang_std.xx, lang_cjk.xx
	var langs []string
	for _, t := range tracks {
		f := textField(t.Lang)
		// Languages as tags and as their base (pt-br, pt), for the lang filter.
		langs = append(langs, strings.ToLower(t.Lang), vodtype.BaseLanguage(t.Lang))
		for _, c := range t.Cues {
			text := vodtype.PlainText(c.Text)
			stored = append(stored, strings.Join([]string{t.Lang, strconv.FormatFloat(c.Start, 'f', -1, 64),
				strconv.FormatFloat(c.End, 'f', -1, 64), controlSeps.Replace(text)}, unitSep))
			if f != "text_std" {
				texts[f] = append(texts[f], text)
			}
			if own := langField(t.Lang); own != f {
				shared[own] = append(shared[own], text)
			}
			texts["text_std"] = append(texts["text_std"], text)
		}
	}
	for f, list := range texts {
		doc[f] = list
	}
	for f, list := range shared {
		prefix, base, _ := strings.Cut(f, ".")
		sub, _ := doc[prefix].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			doc[prefix] = sub
		}
		sub[base] = list
	}
	if len(langs) > 0 {
		doc["langs"] = langs
	}
	if len(stored) > 0 {
		doc["cues"] = strings.Join(stored, recordSep)
	}
	return doc
}

// cueRefs decodes a document's stored cues and, for each text field, the index of the cue at each
// of the field's array positions.
func cueRefs(raw string) ([]Cue, map[string][]int) {
	records := strings.Split(raw, recordSep)
	cues := make([]Cue, 0, len(records))
	refs := map[string][]int{}
	for i, rec := range records {
		var c Cue
		var start, end string
		c.Lang, rec, _ = strings.Cut(rec, unitSep)
		start, rec, _ = strings.Cut(rec, unitSep)
		end, c.Text, _ = strings.Cut(rec, unitSep)
		c.Start, _ = strconv.ParseFloat(start, 64)
		c.End, _ = strconv.ParseFloat(end, 64)
		cues = append(cues, c)
		f := textField(c.Lang)
		if f != "text_std" {
			refs[f] = append(refs[f], i)
		}
		if own := langField(c.Lang); own != f {
			refs[own] = append(refs[own], i)
		}
		refs["text_std"] = append(refs["text_std"], i)
	}
	refs["text_sh"] = refs["text_std"]
	return cues, refs
}

// Open opens the index, or moves a missing or unreadable one aside and rebuilds it in the
// background while search answers 503. It never fails the process for a bad index.
func (s *Service) Open(ctx context.Context) error {
	idx, err := bleve.Open(s.cfg.Path)
	if err == nil {
		if _, cerr := idx.DocCount(); cerr != nil {
			idx.Close()
			err = cerr
		}
	}
	if err == nil {
		if v, verr := idx.GetInternal([]byte("schema")); verr != nil || string(v) != schemaVersion {
			idx.Close()
			err = fmt.Errorf("index layout %q, want %q", v, schemaVersion)
		}
	}
	if err == nil {
		s.setIndex(idx)
		s.ready.Store(true)
		return nil
	}
	if !errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		aside := fmt.Sprintf("%s.broken-%d", s.cfg.Path, time.Now().UnixNano())
		s.log.Warn("search index unreadable or from another version: moving it aside and rebuilding", "path", s.cfg.Path, "aside", aside, "err", err)
		if rerr := os.Rename(s.cfg.Path, aside); rerr != nil && !os.IsNotExist(rerr) {
			_ = os.RemoveAll(s.cfg.Path)
		}
	}
	idx, err = newIndex(s.cfg.Path)
	if err != nil {
		return fmt.Errorf("create search index %s: %w", s.cfg.Path, err)
	}
	s.setIndex(idx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.rebuild(ctx); err != nil {
			s.log.Error("search rebuild failed", "err", err)
			return
		}
		s.ready.Store(true)
		s.log.Info("search index rebuilt")
	}()
	return nil
}

func newIndex(path string) (bleve.Index, error) {
	idx, err := bleve.New(path, newMapping())
	if err != nil {
		return nil, err
	}
	if err := idx.SetInternal([]byte("schema"), []byte(schemaVersion)); err != nil {
		idx.Close()
		return nil, err
	}
	return idx, nil
}

func (s *Service) setIndex(idx bleve.Index) {
	s.mu.Lock()
	s.idx = idx
	s.mu.Unlock()
}

func (s *Service) index() bleve.Index {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.idx
}

// Close stops applying changes and closes the index.
func (s *Service) Close() error {
	s.wg.Wait()
	if idx := s.index(); idx != nil {
		return idx.Close()
	}
	return nil
}

// rebuild indexes every video from the database and stored subtitle files. The change-log cursor is
// taken first, so changes made during the rebuild are applied after it.
func (s *Service) rebuild(ctx context.Context) error {
	var maxID int64
	if err := s.db.Gorm.WithContext(ctx).Raw(`SELECT COALESCE(MAX(id), 0) FROM search_changes`).Scan(&maxID).Error; err != nil {
		return err
	}
	after := ""
	for {
		ids, err := s.catalog.VideoIDs(ctx, after, 200)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		if err := s.indexVideos(ctx, ids); err != nil {
			return err
		}
		after = ids[len(ids)-1]
	}
	if err := compact(ctx, s.index()); err != nil {
		s.log.Warn("search index merge failed", "err", err)
	}
	return s.setCursor(maxID)
}

// compact merges the index into as few segments as it can: a query costs a dictionary lookup per
// term per segment, so a freshly bulk-loaded index of many small segments answers several times
// slower than a merged one.
func compact(ctx context.Context, idx bleve.Index) error {
	adv, err := idx.Advanced()
	if err != nil {
		return err
	}
	if sc, ok := adv.(*scorch.Scorch); ok {
		return sc.ForceMerge(ctx, nil)
	}
	return nil
}

// Reindex rebuilds the index at path from scratch (vod search reindex).
func (s *Service) Reindex(ctx context.Context) error {
	if idx := s.index(); idx != nil {
		idx.Close()
	}
	if err := os.RemoveAll(s.cfg.Path); err != nil {
		return err
	}
	idx, err := newIndex(s.cfg.Path)
	if err != nil {
		return err
	}
	s.setIndex(idx)
	if err := s.rebuild(ctx); err != nil {
		return err
	}
	s.ready.Store(true)
	return nil
}
