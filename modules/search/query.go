package search

import (
	"context"
	"encoding/base64"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/highlight/highlighter/html"
	"github.com/blevesearch/bleve/v2/search/query"

	"vod/app/vodtype"
)

// Cue is a subtitle hit with its times in seconds.
type Cue struct {
	Lang  string  `json:"lang"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Text  string  `json:"text"`
}

// Hit is one video in the results.
type Hit struct {
	Video      any                 `json:"video"`
	Score      float64             `json:"score"`
	Highlights map[string][]string `json:"highlights"`
	Cues       []Cue               `json:"cues"`
}

// Result is a page of hits.
type Result struct {
	Items      []Hit   `json:"items"`
	NextCursor *string `json:"next_cursor"`
	Total      int     `json:"total"`
}

// Request is a search.
type Request struct {
	Q, Scope, Lang string
	Limit, Offset  int
	CallerID       string
	Admin          bool
}

var phraseRe = regexp.MustCompile(`"([^"]+)"`)

// Field weights: title over description over subtitles.
const (
	titleBoost = 3.0
	descBoost  = 1.5
	ownerBoost = 1.0
	cueBoost   = 0.6
	maxCues    = 10
)

// fieldSet says which fields, with which boosts, each kind of matching looks in.
type fieldSet struct {
	exact  map[string]float64 // words, stemmed where the field's analyser stems
	phrase map[string]float64 // quoted phrases
	fuzzy  map[string]float64 // words with one typo: fields holding words as written
	prefix map[string]float64 // the word being typed
}

// textQuery turns the user's words into a query: quoted phrases match as phrases, every word must
// match in one of the exact fields, words of five letters or more also match with one typo when
// fuzzy is set, and the last word also matches as a prefix, so that results follow typing.
// A phrase of two words is one word pair: a term lookup in text_sh, with no positions to check.
func textQuery(q string, fs fieldSet, fuzzy bool, pairs analysis.Analyzer) query.Query {
	var must []query.Query
	words := strings.Fields(phraseRe.ReplaceAllString(q, " "))
	for _, m := range phraseRe.FindAllStringSubmatch(q, -1) {
		if len(strings.Fields(m[1])) < 2 {
			words = append(words, m[1]) // a quoted word is a word
			continue
		}
		var any []query.Query
		for f, boost := range fs.phrase {
			if f == "text_sh" {
				if toks := pairs.Analyze([]byte(m[1])); len(toks) == 1 {
					tq := bleve.NewTermQuery(string(toks[0].Term))
					tq.SetField(f)
					tq.SetBoost(boost * 1.5)
					any = append(any, tq)
					continue
				}
			}
			pq := bleve.NewMatchPhraseQuery(m[1])
			pq.SetField(f)
			pq.SetBoost(boost * 1.5)
			pq.Analyzer = analyzerFor(f)
			any = append(any, pq)
		}
		must = append(must, bleve.NewDisjunctionQuery(any...))
	}
	for i, w := range words {
		w = strings.ToLower(strings.Trim(w, ".,;:!?¿¡()[]{}'\""))
		if w == "" {
			continue
		}
		var any []query.Query
		for f, boost := range fs.exact {
			mq := bleve.NewMatchQuery(w)
			mq.SetField(f)
			mq.SetBoost(boost)
			mq.Analyzer = analyzerFor(f)
			any = append(any, mq)
		}
		if fuzzy && utf8.RuneCountInString(w) >= 5 {
			for f, boost := range fs.fuzzy {
				fq := bleve.NewFuzzyQuery(w)
				fq.SetField(f)
				fq.SetFuzziness(1)
				fq.SetBoost(boost * 0.5)
				any = append(any, fq)
			}
		}
		if i == len(words)-1 && utf8.RuneCountInString(w) >= 2 {
			for f, boost := range fs.prefix {
				pq := bleve.NewPrefixQuery(w)
				pq.SetField(f)
				pq.SetBoost(boost * 0.3)
				any = append(any, pq)
			}
		}
		must = append(must, bleve.NewDisjunctionQuery(any...))
	}
	switch len(must) {
	case 0:
		return bleve.NewMatchNoneQuery()
	case 1:
		return must[0]
	}
	return bleve.NewConjunctionQuery(must...)
}

func term(field, value string) query.Query {
	t := bleve.NewTermQuery(value)
	t.SetField(field)
	return t
}

// Search runs a query and renders the page of videos it finds, with highlights and matching cues.
// The ranking pass only scores; locations, stored cues and highlights are read in a second pass
// restricted to the page, so their cost does not grow with the number of matches.
func (s *Service) Search(ctx context.Context, r Request) (*Result, error) {
	if !s.ready.Load() {
		return nil, ErrNotReady
	}
	res, text, err := s.rank(ctx, r)
	if err != nil {
		return nil, err
	}
	out := &Result{Items: []Hit{}, Total: int(res.Total)}
	if len(res.Hits) == 0 {
		return out, nil
	}
	ids := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		ids[i] = h.ID
	}
	details, err := s.details(ctx, text, ids, r.Lang)
	if err != nil {
		return nil, err
	}
	views, err := s.catalog.Views(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, h := range res.Hits {
		v, ok := views[h.ID]
		if !ok {
			continue // deleted since it was indexed
		}
		d := details[h.ID]
		if d == nil {
			d = &detail{highlights: map[string][]string{"title": {}, "description": {}}, cues: []Cue{}}
		}
		out.Items = append(out.Items, Hit{Video: v, Score: math.Round(h.Score*1000) / 1000, Highlights: d.highlights, Cues: d.cues})
	}
	if end := r.Offset + len(res.Hits); end < int(res.Total) && end < maxOffset {
		c := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		out.NextCursor = &c
	}
	return out, nil
}

const maxOffset = 10000

// rank finds the page of videos. Typo tolerance is a second pass, run only when the exact words do
// not fill the page: fuzzy matching walks the term dictionary and is the costliest part of a query.
func (s *Service) rank(ctx context.Context, r Request) (*bleve.SearchResult, query.Query, error) {
	res, text, err := s.rankPass(ctx, r, false)
	if err != nil || int(res.Total) >= r.Offset+r.Limit {
		return res, text, err
	}
	return s.rankPass(ctx, r, true)
}

func (s *Service) rankPass(ctx context.Context, r Request, fuzzy bool) (*bleve.SearchResult, query.Query, error) {
	fs := fieldSet{exact: map[string]float64{}, phrase: map[string]float64{}, fuzzy: map[string]float64{}, prefix: map[string]float64{}}
	if r.Scope != "subtitles" {
		fs.exact["title"], fs.exact["description"], fs.exact["owner"] = titleBoost, descBoost, ownerBoost
		fs.phrase["title"], fs.phrase["description"] = titleBoost, descBoost
		fs.fuzzy["title_std"], fs.fuzzy["description_std"] = titleBoost, descBoost
		fs.prefix["title_std"], fs.prefix["description_std"] = titleBoost, descBoost
	}
	// Subtitles match whole words (stemmed, so a word being typed matches once its stem is typed):
	// a prefix over every subtitle word of every video is the costliest query there is.
	idx := s.index()
	if r.Scope != "metadata" {
		if r.Lang != "" {
			// The language's own field for everything: text_std and text_sh hold every language.
			f := langField(r.Lang)
			fs.exact[f], fs.phrase[f], fs.fuzzy[f] = cueBoost, cueBoost, cueBoost
		} else {
			fields, err := langFields(idx)
			if err != nil {
				return nil, nil, err
			}
			for _, f := range fields {
				fs.exact[f] = cueBoost
			}
			fs.phrase["text_sh"] = cueBoost
			fs.fuzzy["text_std"] = cueBoost
		}
	}
	text := textQuery(r.Q, fs, fuzzy, idx.Mapping().AnalyzerNamed(bigramAnalyzer))
	if r.Scope == "subtitles" && r.Lang != "" {
		// A language's field holds its regional variants too (pt-br, pt-pt): keep to the tag asked.
		text = bleve.NewConjunctionQuery(text, term("langs", r.Lang))
	}
	req := bleve.NewSearchRequestOptions(visibleTo(text, r), r.Limit, r.Offset, false)
	res, err := idx.SearchInContext(ctx, req)
	return res, text, err
}

// visibleTo limits a query to the videos the caller may see. Only ready videos are in the index, so
// status needs no filter; visibility excludes the few hidden videos the caller does not own rather
// than intersecting with the long list of public ones.
func visibleTo(text query.Query, r Request) query.Query {
	if r.Admin {
		return text
	}
	var notVisible query.Query = term("hidden", "1")
	if r.CallerID != "" {
		others := bleve.NewBooleanQuery()
		others.AddMust(notVisible)
		others.AddMustNot(term("owner_id", r.CallerID))
		notVisible = others
	}
	q := bleve.NewBooleanQuery()
	q.AddMust(text)
	q.AddMustNot(notVisible)
	return q
}

type detail struct {
	highlights map[string][]string
	cues       []Cue
}

// details reads, for the page's videos only, the title and description highlights and the cues
// the query matched.
func (s *Service) details(ctx context.Context, text query.Query, ids []string, lang string) (map[string]*detail, error) {
	req := bleve.NewSearchRequestOptions(bleve.NewConjunctionQuery(bleve.NewDocIDQuery(ids), text), len(ids), 0, false)
	req.Fields = []string{"cues"}
	req.IncludeLocations = true
	req.Highlight = bleve.NewHighlightWithStyle(html.Name)
	req.Highlight.AddField("title")
	req.Highlight.AddField("description")
	res, err := s.index().SearchInContext(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*detail, len(res.Hits))
	for _, h := range res.Hits {
		d := &detail{highlights: map[string][]string{"title": {}, "description": {}}, cues: []Cue{}}
		for f, frags := range h.Fragments {
			for _, fr := range frags {
				// The highlighter returns a field's opening words even where nothing matched in it.
				if strings.Contains(fr, "<mark>") {
					d.highlights[f] = append(d.highlights[f], fr)
				}
			}
		}
		out[h.ID] = d
		if raw, _ := h.Fields["cues"].(string); raw != "" {
			d.cues = matchedCues(raw, h.Locations, lang)
		}
	}
	return out, nil
}

// matchedCues picks the cues a hit's locations fall in: those matching the most words first, at
// most maxCues, returned in time order. A word is counted by its position, so a word matched in its
// language's field and again in text_std counts once.
func matchedCues(raw string, locations search.FieldTermLocationMap, lang string) []Cue {
	cues, refs := cueRefs(raw)
	words := map[int]map[uint64]bool{}
	for f, terms := range locations {
		list := refs[f]
		for _, locs := range terms {
			for _, l := range locs {
				if len(l.ArrayPositions) == 0 || l.ArrayPositions[0] >= uint64(len(list)) {
					continue
				}
				i := list[l.ArrayPositions[0]]
				if lang != "" && !sameLang(cues[i].Lang, lang) {
					continue
				}
				if words[i] == nil {
					words[i] = map[uint64]bool{}
				}
				words[i][l.Pos] = true
			}
		}
	}
	matched := make([]int, 0, len(words))
	for i := range words {
		matched = append(matched, i)
	}
	sort.Slice(matched, func(a, b int) bool {
		x, y := matched[a], matched[b]
		if len(words[x]) != len(words[y]) {
			return len(words[x]) > len(words[y])
		}
		return cues[x].Start < cues[y].Start
	})
	matched = matched[:min(len(matched), maxCues)]
	sort.Slice(matched, func(a, b int) bool { return cues[matched[a]].Start < cues[matched[b]].Start })
	out := make([]Cue, 0, len(matched))
	for _, i := range matched {
		out = append(out, cues[i])
	}
	return out
}

// sameLang reports whether a cue's language is the requested one (fr matches fr-CA).
func sameLang(cue, want string) bool {
	return strings.EqualFold(cue, want) || vodtype.BaseLanguage(cue) == strings.ToLower(want)
}
