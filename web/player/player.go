// Package player is the bundled web app: plain HTML, CSS and JavaScript modules with dash.js,
// embedded in the binary. Every page path serves the same shell; app.js routes on the client.
package player

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"vod/app/httpx"

	"github.com/labstack/echo/v4"
)

//go:embed index.html static
var assets embed.FS

// Pages are the paths the app answers with its shell.
var Pages = []string{"/", "/watch/:id", "/search", "/upload", "/login", "/signup", "/me", "/admin"}

// shell answers with the app's page; app.js routes on the client.
func shell(c echo.Context, status int) error {
	index, _ := assets.ReadFile("index.html")
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

// Routes declares the pages and /static/*.
func Routes(r *httpx.Router) {
	page := func(c echo.Context) error {
		return shell(c, http.StatusOK)
	}
	html := httpx.Obj{"200": httpx.Content("HTML", "text/html", httpx.StrType)}
	for _, p := range Pages {
		var params []httpx.Obj
		if strings.Contains(p, ":id") {
			params = []httpx.Obj{httpx.VideoIDParam}
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
