// Package player is the bundled web app: plain HTML, CSS and JavaScript modules with dash.js,
// embedded in the binary. Every page path serves the same shell; app.js routes on the client.
package player

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"vod/app/httpx"
	"vod/app/vodtype"

	"github.com/labstack/echo/v4"
)

//go:embed index.html embed.html static
var assets embed.FS

// Videos is what the pages need of the catalog: what a link preview may say of a video.
type Videos interface {
	PageMeta(ctx context.Context, id string) (vodtype.PageMeta, bool)
}

// Pages are the paths the app answers with its shell.
var Pages = []string{"/", "/watch/:id", "/search", "/upload", "/login", "/signup", "/me", "/admin", "/u/:username"}

// shell answers with the app's page; app.js routes on the client.
func shell(c echo.Context, status int) error {
	index, _ := assets.ReadFile("index.html")
	return serveHTML(c, status, index)
}

func serveHTML(c echo.Context, status int, index []byte) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob: https:; connect-src 'self' https: http:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	return c.HTMLBlob(status, index)
}

// NotFoundPage answers a browser's request for a path nothing serves with the app's shell and a
// 404 (the app shows its "Page not found"); API, media and asset paths, and clients that do not
// ask for HTML, keep the JSON error. It reports whether it answered.
func NotFoundPage(err error, c echo.Context) bool {
	var he *echo.HTTPError
	req := c.Request()
	if !errors.As(err, &he) || he.Code != http.StatusNotFound || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return false
	}
	for _, prefix := range []string{"/api/", "/media/", "/static/", "/embed/", "/.well-known/"} {
		if strings.HasPrefix(req.URL.Path, prefix) {
			return false
		}
	}
	if !strings.Contains(req.Header.Get("Accept"), "text/html") {
		return false
	}
	return shell(c, http.StatusNotFound) == nil
}

// origin is the server's address as the client reached it, for absolute URLs in link previews.
func origin(c echo.Context) string { return c.Scheme() + "://" + c.Request().Host }

func absolute(c echo.Context, u string) string {
	if strings.HasPrefix(u, "/") {
		return origin(c) + u
	}
	return u
}

// watchPage is the app's page with the video's title and link-preview tags in its head, rendered
// on the server: crawlers that build previews (chat apps, social sites) run no JavaScript.
func watchPage(videos Videos) echo.HandlerFunc {
	return func(c echo.Context) error {
		index, _ := assets.ReadFile("index.html")
		m, ok := videos.PageMeta(c.Request().Context(), c.Param("id"))
		if !ok {
			return serveHTML(c, http.StatusOK, index)
		}
		page := origin(c) + "/watch/" + m.ID
		e := html.EscapeString
		var b strings.Builder
		fmt.Fprintf(&b, "<title>%s · vod</title>\n", e(m.Title))
		desc := m.Description
		if desc == "" {
			desc = "A video by " + m.Owner
		}
		tags := [][2]string{{"og:type", "video.other"}, {"og:title", m.Title}, {"og:description", desc}, {"og:url", page},
			{"og:site_name", "vod"}, {"og:video", origin(c) + "/embed/" + m.ID}, {"og:video:type", "text/html"},
			{"og:video:width", strconv.Itoa(m.Width)}, {"og:video:height", strconv.Itoa(m.Height)}}
		if m.Poster != "" {
			tags = append(tags, [2]string{"og:image", absolute(c, m.Poster)})
		}
		for _, t := range tags {
			fmt.Fprintf(&b, "  <meta property=\"%s\" content=\"%s\">\n", t[0], e(t[1]))
		}
		for _, t := range [][2]string{{"twitter:card", "player"}, {"twitter:title", m.Title}, {"twitter:description", desc},
			{"twitter:player", origin(c) + "/embed/" + m.ID}, {"twitter:player:width", strconv.Itoa(m.Width)}, {"twitter:player:height", strconv.Itoa(m.Height)}} {
			fmt.Fprintf(&b, "  <meta name=\"%s\" content=\"%s\">\n", t[0], e(t[1]))
		}
		fmt.Fprintf(&b, "  <meta name=\"description\" content=\"%s\">\n", e(desc))
		fmt.Fprintf(&b, "  <link rel=\"alternate\" type=\"application/json+oembed\" href=\"%s\" title=\"%s\">", e(origin(c)+"/api/v1/oembed?url="+url.QueryEscape(page)), e(m.Title))
		return serveHTML(c, http.StatusOK, []byte(strings.Replace(string(index), "<title>vod</title>", b.String(), 1)))
	}
}

var watchURL = regexp.MustCompile(`^/(?:watch|embed)/([0-9a-f-]{36})$`)

// oembed answers oEmbed 1.0 (https://oembed.com) for a watch or embed link of this server: type
// video with the iframe of the embed page, so that a CMS embeds a pasted link.
func oembed(videos Videos) echo.HandlerFunc {
	return func(c echo.Context) error {
		if f := c.QueryParam("format"); f != "" && f != "json" {
			return httpx.E(http.StatusNotImplemented, "format_not_supported", "only format=json is served")
		}
		u, err := url.Parse(c.QueryParam("url"))
		if err != nil || u.Host != c.Request().Host {
			return httpx.NotFound("video")
		}
		m := watchURL.FindStringSubmatch(u.Path)
		if m == nil {
			return httpx.NotFound("video")
		}
		meta, ok := videos.PageMeta(c.Request().Context(), m[1])
		if !ok {
			return httpx.NotFound("video")
		}
		w, hgt := 640, 360
		if meta.Width > 0 && meta.Height > 0 {
			hgt = w * meta.Height / meta.Width
		}
		if mw, _ := strconv.Atoi(c.QueryParam("maxwidth")); mw > 0 && mw < w {
			hgt, w = hgt*mw/w, mw
		}
		if mh, _ := strconv.Atoi(c.QueryParam("maxheight")); mh > 0 && mh < hgt {
			w, hgt = w*mh/hgt, mh
		}
		out := map[string]any{"version": "1.0", "type": "video", "provider_name": "vod", "provider_url": origin(c) + "/",
			"title": meta.Title, "author_name": meta.Owner, "width": w, "height": hgt, "cache_age": 3600,
			"html": fmt.Sprintf(`<iframe src="%s/embed/%s" width="%d" height="%d" frameborder="0" allow="autoplay; fullscreen; encrypted-media" allowfullscreen title="%s"></iframe>`,
				origin(c), meta.ID, w, hgt, html.EscapeString(meta.Title))}
		if meta.Poster != "" {
			out["thumbnail_url"] = absolute(c, meta.Poster)
			out["thumbnail_width"], out["thumbnail_height"] = meta.Width, meta.Height
		}
		return c.JSON(http.StatusOK, out)
	}
}

// Routes declares the pages, the embed page, oEmbed and /static/*.
func Routes(r *httpx.Router, videos Videos) {
	page := func(c echo.Context) error {
		if c.Path() == "/watch/:id" {
			return watchPage(videos)(c)
		}
		return shell(c, http.StatusOK)
	}
	embedPage, _ := assets.ReadFile("embed.html")
	r.Add(httpx.Route{Method: http.MethodGet, Path: "/embed/:id", Handler: func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-cache")
		// Any site may frame the player (only this page: every other refuses framing).
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob: https:; connect-src 'self' https: http:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors *")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		return c.HTMLBlob(http.StatusOK, embedPage)
	}, Doc: httpx.Doc{Tag: "web", Summary: "Player-only page for other sites to frame", Params: []httpx.Obj{httpx.VideoIDParam},
		Responses: httpx.Obj{"200": httpx.Content("HTML", "text/html", httpx.StrType)}}})
	r.Add(httpx.Route{Method: http.MethodGet, Path: "/api/v1/oembed", Handler: oembed(videos), Limit: httpx.LimitAPI,
		Doc: httpx.Doc{Tag: "videos", Summary: "oEmbed 1.0 for a watch link (type video, iframe html)",
			Params: []httpx.Obj{{"name": "url", "in": "query", "required": true, "description": "a /watch/{id} link of this server", "schema": httpx.StrType},
				httpx.QueryParam("maxwidth", "largest width", httpx.Integer), httpx.QueryParam("maxheight", "largest height", httpx.Integer),
				httpx.QueryParam("format", "json (the only one served)", httpx.StrType)},
			Responses: httpx.Obj{"200": httpx.Resp("oEmbed response", httpx.Object([]string{"version", "type", "html", "width", "height"}, httpx.Obj{
				"version": httpx.StrType, "type": httpx.StrType, "title": httpx.StrType, "author_name": httpx.StrType, "provider_name": httpx.StrType,
				"provider_url": httpx.StrType, "html": httpx.StrType, "width": httpx.Integer, "height": httpx.Integer, "cache_age": httpx.Integer,
				"thumbnail_url": httpx.StrType, "thumbnail_width": httpx.Integer, "thumbnail_height": httpx.Integer})),
				"404": httpx.ErrResp("not a link to a public or unlisted video of this server"), "501": httpx.ErrResp("format other than json")}}})
	html := httpx.Obj{"200": httpx.Content("HTML", "text/html", httpx.StrType)}
	for _, p := range Pages {
		var params []httpx.Obj
		if strings.Contains(p, ":id") {
			params = []httpx.Obj{httpx.VideoIDParam}
		}
		if strings.Contains(p, ":username") {
			params = []httpx.Obj{httpx.PathParam("username", "whose channel")}
		}
		r.Add(httpx.Route{Method: http.MethodGet, Path: p, Handler: page, Doc: httpx.Doc{Tag: "web", Summary: "Web app page", Params: params, Responses: html}})
	}
	static, _ := fs.Sub(assets, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	r.Add(httpx.Route{Method: http.MethodGet, Path: "/static/*", DocPath: "/static/{path}", Handler: func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}, Doc: httpx.Doc{Tag: "web", Summary: "Web app assets", Params: []httpx.Obj{httpx.PathParam("path", "asset path")},
		Responses: httpx.Obj{"200": httpx.NoBody("asset"), "404": httpx.NoBody("no such asset")}}})
}
