package search

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"vod/app/httpx"
	"vod/app/vodtype"
)

// httpError is the module's one map from domain errors to HTTP.
func httpError(err error) error {
	switch {
	case errors.Is(err, ErrNotReady):
		return httpx.E(http.StatusServiceUnavailable, "search_unavailable", "the search index is being rebuilt; try again in a moment")
	}
	return err
}

// Routes declares GET /api/v1/search.
func (s *Service) Routes(root *httpx.Router) {
	root.WithErrors(httpError).Add(httpx.Route{Method: http.MethodGet, Path: "/api/v1/search", Handler: s.handleSearch, Auth: httpx.Optional, Limit: httpx.LimitSearch,
		Doc: httpx.Doc{Tag: "search", Summary: "Search titles, descriptions and subtitles",
			Params: append([]httpx.Obj{httpx.QueryParam("q", "query: words (stemmed; one typo forgiven in words of 5+ letters), \"phrases\", and the last word as a prefix of titles and descriptions", httpx.StrType),
				httpx.QueryParam("scope", "all, metadata or subtitles", httpx.Obj{"type": "string", "enum": []string{"all", "metadata", "subtitles"}}),
				httpx.QueryParam("lang", "subtitle language tag (fr matches fr-CA): only that track's cues match", httpx.StrType)}, httpx.Paging...),
			Responses: httpx.Obj{"200": httpx.Resp("results", httpx.Ref("SearchResult")), "422": httpx.ErrResp("invalid query"), "503": httpx.ErrResp("index being rebuilt")}}})
}

func (s *Service) handleSearch(c echo.Context) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	q := strings.TrimSpace(c.QueryParam("q"))
	f := vodtype.FieldErrors{}
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
		if err != nil || aerr != nil || n < 0 || n > maxOffset {
			f["cursor"] = "is not a cursor this API returned"
		}
		offset = n
	}
	lang := strings.ToLower(c.QueryParam("lang"))
	if lang != "" && !vodtype.ValidLanguage(lang) {
		f["lang"] = "must be a language tag such as en or pt-BR"
	}
	if len(f) > 0 {
		return vodtype.FieldErrors(f)
	}
	caller, _ := httpx.CallerFrom(c)
	res, err := s.Search(c.Request().Context(), Request{Q: q, Scope: scope, Lang: lang,
		Limit: page.Limit, Offset: offset, CallerID: caller.ID, Admin: caller.Admin})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
