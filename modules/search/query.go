package search

import (
	"context"
	"encoding/base64"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/highlight/highlighter/html"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/labstack/echo/v4"

	"vod/app/httpx"
)

// Routes mounts GET /api/v1/search.
func (s *Service) Routes(g *echo.Group) {
	g.GET("/search", s.handleSearch, s.guards.OptionalUser)
}

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
	cueWeight  = 0.6
)

// textQuery turns the user's words into a query: quoted phrases match as phrases, every word must
// match in one of the exact fields (stemmed where the field's analyzer stems), words of five letters
// or more also match with one typo, and the last word also matches as a prefix, so that results
// follow typing. Fuzzy and prefix matching run only on the loosely analysed fields (loose), whose
// term dictionaries are small, to keep queries fast.
func textQuery(q string, exact, loose map[string]float64, fuzzy bool) query.Query {
	var must []query.Query
	for _, m := range phraseRe.FindAllStringSubmatch(q, -1) {
		var any []query.Query
		for f, boost := range exact {
			pq := bleve.NewMatchPhraseQuery(m[1])
			pq.SetField(f)
			pq.SetBoost(boost * 1.5)
			any = append(any, pq)
		}
		must = append(must, bleve.NewDisjunctionQuery(any...))
	}
	words := strings.Fields(phraseRe.ReplaceAllString(q, " "))
	for i, w := range words {
		w = strings.ToLower(strings.Trim(w, ".,;:!?¿¡()[]{}'"))
		if w == "" {
			continue
		}
		var any []query.Query
		for f, boost := range exact {
			mq := bleve.NewMatchQuery(w)
			mq.SetField(f)
			mq.SetBoost(boost)
			any = append(any, mq)
		}
		for f, boost := range loose {
			if fuzzy && utf8.RuneCountInString(w) >= 5 {
				fq := bleve.NewFuzzyQuery(w)
				fq.SetField(f)
				fq.SetFuzziness(1)
				fq.SetBoost(boost * 0.5)
				any = append(any, fq)
			}
			if i == len(words)-1 && utf8.RuneCountInString(w) >= 2 {
				pq := bleve.NewPrefixQuery(w)
				pq.SetField(f)
				pq.SetBoost(boost * 0.3)
				any = append(any, pq)
			}
		}
		must = append(must, bleve.NewDisjunctionQuery(any...))
	}
	if len(must) == 0 {
		return bleve.NewMatchNoneQuery()
	}
	return bleve.NewConjunctionQuery(must...)
}

func term(field, value string) query.Query {
	t := bleve.NewTermQuery(value)
	t.SetField(field)
	return t
}

// Search runs a query, groups its hits by video and renders the page of videos.
func (s *Service) Search(ctx context.Context, r Request) (*Result, error) {
	if !s.ready.Load() {
		return nil, errNotReady
	}
	list, err := s.searchOnly(ctx, r)
	if err != nil {
		return nil, err
	}
	out := &Result{Items: []Hit{}, Total: len(list)}
	end := min(r.Offset+r.Limit, len(list))
	if r.Offset < end {
		page := list[r.Offset:end]
		ids := make([]string, len(page))
		for i, g := range page {
			ids[i] = g.id
		}
		views, err := s.catalog.Views(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, g := range page {
			v, ok := views[g.id]
			if !ok {
				continue // deleted since it was indexed
			}
			cues := g.cues
			if cues == nil {
				cues = []Cue{}
			}
			out.Items = append(out.Items, Hit{Video: v, Score: math.Round(g.score()*1000) / 1000, Highlights: g.highlights, Cues: cues})
		}
	}
	if end < len(list) {
		c := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		out.NextCursor = &c
	}
	return out, nil
}

type group struct {
	id         string
	meta, cue  float64
	cues       []Cue
	highlights map[string][]string
}

func (g *group) score() float64 { return g.meta + cueWeight*g.cue }

// searchOnly queries the index and returns the matching videos ranked, with their cues. Typo
// tolerance is a second pass, run only when the exact words do not fill the page: fuzzy matching
// walks the term dictionary and is the costliest part of a query.
func (s *Service) searchOnly(ctx context.Context, r Request) ([]*group, error) {
	list, err := s.searchPass(ctx, r, false)
	if err != nil || len(list) >= r.Offset+r.Limit {
		return list, err
	}
	return s.searchPass(ctx, r, true)
}

func (s *Service) searchPass(ctx context.Context, r Request, fuzzy bool) ([]*group, error) {
	var parts []query.Query
	if r.Scope != "subtitles" {
		meta := textQuery(r.Q, map[string]float64{"title": titleBoost, "description": descBoost, "owner": ownerBoost},
			map[string]float64{"title_std": titleBoost, "description_std": descBoost}, fuzzy)
		// Only video documents have these fields: no type filter needed.
		parts = append(parts, meta)
	}
	if r.Scope != "metadata" {
		fields := map[string]float64{"text_std": 1}
		if r.Lang != "" {
			fields[textField(r.Lang)] = 1
		} else {
			for _, f := range s.stemmedFields() {
				fields[f] = 1
			}
		}
		cq := []query.Query{textQuery(r.Q, fields, map[string]float64{"text_std": 1}, fuzzy)}
		if r.Lang != "" {
			cq = append(cq, term("lang", r.Lang))
		}
		parts = append(parts, bleve.NewConjunctionQuery(cq...))
	}
	// Only ready videos are in the index (indexVideos skips the rest), so status needs no filter.
	// Visibility is filtered by excluding the few hidden documents rather than intersecting with the
	// huge list of public ones; a caller's own hidden videos come from a second, narrow clause.
	text := bleve.NewDisjunctionQuery(parts...)
	var q query.Query = text
	if !r.Admin {
		visible := bleve.NewBooleanQuery()
		visible.AddMust(text)
		visible.AddMustNot(term("hidden", "1"))
		q = visible
		if r.CallerID != "" {
			q = bleve.NewDisjunctionQuery(visible, bleve.NewConjunctionQuery(term("owner_id", r.CallerID), term("hidden", "1"), text))
		}
	}
	req := bleve.NewSearchRequestOptions(q, 200, 0, false)
	req.Fields = []string{"video_id", "type", "lang", "start", "end", "text"}
	req.Highlight = bleve.NewHighlightWithStyle(html.Name)
	req.Highlight.AddField("title")
	req.Highlight.AddField("description")
	res, err := s.index().SearchInContext(ctx, req)
	if err != nil {
		return nil, err
	}

	groups := map[string]*group{}
	for _, h := range res.Hits {
		vid, _ := h.Fields["video_id"].(string)
		g := groups[vid]
		if g == nil {
			g = &group{id: vid, highlights: map[string][]string{"title": {}, "description": {}}}
			groups[vid] = g
		}
		if h.Fields["type"] == "video" {
			g.meta = math.Max(g.meta, h.Score)
			for f, frags := range h.Fragments {
				g.highlights[f] = append(g.highlights[f], frags...)
			}
			continue
		}
		g.cue = math.Max(g.cue, h.Score)
		if len(g.cues) < 10 {
			start, _ := h.Fields["start"].(float64)
			end, _ := h.Fields["end"].(float64)
			lang, _ := h.Fields["lang"].(string)
			text, _ := h.Fields["text"].(string)
			g.cues = append(g.cues, Cue{Lang: lang, Start: start, End: end, Text: text})
		}
	}
	list := make([]*group, 0, len(groups))
	for _, g := range groups {
		sort.Slice(g.cues, func(i, j int) bool { return g.cues[i].Start < g.cues[j].Start })
		list = append(list, g)
	}
	sort.Slice(list, func(i, j int) bool {
		if a, b := list[i].score(), list[j].score(); a != b {
			return a > b
		}
		return list[i].id < list[j].id
	})
	return list, nil
}

func (s *Service) handleSearch(c echo.Context) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	q := strings.TrimSpace(c.QueryParam("q"))
	f := map[string]string{}
	if q == "" || utf8.RuneCountInString(q) > 200 {
		f["q"] = "must be 1 to 200 characters"
	}
	scope := c.QueryParam("scope")
	switch scope {
	case "":
		scope = "all"
	case "all", "metadata", "subtitles":
	default:
		f["scope"] = "must be all, metadata or subtitles"
	}
	offset := 0
	if page.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(page.Cursor)
		n, aerr := strconv.Atoi(string(raw))
		if err != nil || aerr != nil || n < 0 || n > 10000 {
			f["cursor"] = "is not a cursor this API returned"
		}
		offset = n
	}
	if len(f) > 0 {
		return httpx.Validation(f)
	}
	caller, _ := httpx.CallerFrom(c)
	res, err := s.Search(c.Request().Context(), Request{Q: q, Scope: scope, Lang: strings.ToLower(c.QueryParam("lang")),
		Limit: page.Limit, Offset: offset, CallerID: caller.ID, Admin: caller.Admin})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
