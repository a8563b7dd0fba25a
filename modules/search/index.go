package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
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
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
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
	base, _, _ := strings.Cut(lang, "-")
	if a, ok := analyzers[base]; ok {
		return "text_" + a
	}
	return "text_std"
}

// stemmedFields are the language fields in use: only languages present in the index are queried.
func (s *Service) stemmedFields() []string {
	s.langMu.Lock()
	defer s.langMu.Unlock()
	out := make([]string, 0, len(s.langs))
	for f := range s.langs {
		if f != "text_std" {
			out = append(out, f)
		}
	}
	return out
}

func (s *Service) noteLang(field string) {
	s.langMu.Lock()
	defer s.langMu.Unlock()
	if s.langs == nil {
		s.langs = map[string]bool{}
	}
	if !s.langs[field] {
		s.langs[field] = true
		_ = s.index().SetInternal([]byte("langs"), []byte(strings.Join(mapKeys(s.langs), ",")))
	}
}

func (s *Service) loadLangs() {
	s.langMu.Lock()
	defer s.langMu.Unlock()
	s.langs = map[string]bool{}
	if b, err := s.index().GetInternal([]byte("langs")); err == nil {
		for _, f := range strings.Split(string(b), ",") {
			if f != "" {
				s.langs[f] = true
			}
		}
	}
}

func mapKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
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

func newMapping() mapping.IndexMapping {
	im := bleve.NewIndexMapping()
	im.TypeField = "type"
	im.DefaultAnalyzer = en.AnalyzerName
	kw := bleve.NewKeywordFieldMapping()
	kw.Analyzer = keyword.Name
	stored := func(analyzer string) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzer
		f.Store = true
		f.IncludeTermVectors = true
		return f
	}
	num := bleve.NewNumericFieldMapping()
	num.Store = true
	num.Index = false

	common := func(d *mapping.DocumentMapping) {
		for _, k := range []string{"type", "video_id", "owner_id", "visibility", "status", "lang", "hidden"} {
			d.AddFieldMappingsAt(k, kw)
		}
	}
	video := bleve.NewDocumentMapping()
	common(video)
	// Each text is indexed twice: stemmed for exact matching, and plainly (no stemming) for typo and
	// prefix matching, which need the words as written.
	title := stored(en.AnalyzerName)
	plainTitle := bleve.NewTextFieldMapping()
	plainTitle.Analyzer = standard.Name
	plainTitle.Name = "title_std"
	video.AddFieldMappingsAt("title", title, plainTitle)
	desc := stored(en.AnalyzerName)
	plainDesc := bleve.NewTextFieldMapping()
	plainDesc.Analyzer = standard.Name
	plainDesc.Name = "description_std"
	video.AddFieldMappingsAt("description", desc, plainDesc)
	owner := bleve.NewTextFieldMapping()
	owner.Analyzer = standard.Name
	video.AddFieldMappingsAt("owner", owner)
	video.AddFieldMappingsAt("created_at", bleve.NewDateTimeFieldMapping())

	cue := bleve.NewDocumentMapping()
	common(cue)
	cue.AddFieldMappingsAt("start", num)
	cue.AddFieldMappingsAt("end", num)
	raw := bleve.NewTextFieldMapping()
	raw.Index = false
	raw.Store = true
	cue.AddFieldMappingsAt("text", raw)
	for _, f := range textFields() {
		a := strings.TrimPrefix(f, "text_")
		if a == "std" {
			a = standard.Name
		}
		tf := bleve.NewTextFieldMapping()
		tf.Analyzer = a
		cue.AddFieldMappingsAt(f, tf)
	}
	im.AddDocumentMapping("video", video)
	im.AddDocumentMapping("cue", cue)
	im.DefaultMapping = bleve.NewDocumentDisabledMapping()
	return im
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
		s.setIndex(idx)
		s.loadLangs()
		s.ready.Store(true)
		return nil
	}
	if !errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		aside := fmt.Sprintf("%s.broken-%d", s.cfg.Path, time.Now().Unix())
		s.log.Warn("search index unreadable: moving it aside and rebuilding", "path", s.cfg.Path, "aside", aside, "err", err)
		if rerr := os.Rename(s.cfg.Path, aside); rerr != nil && !os.IsNotExist(rerr) {
			_ = os.RemoveAll(s.cfg.Path)
		}
	}
	idx, err = bleve.New(s.cfg.Path, newMapping())
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
	idx, err := bleve.New(s.cfg.Path, newMapping())
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
