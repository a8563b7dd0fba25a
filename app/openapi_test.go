package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"vod/app/testenv"
)

var echoParam = regexp.MustCompile(`:([a-z_]+)`)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	cfg, err := loadFor(t, nil, testenv.Env(t))
	require.NoError(t, err)
	a, err := build(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	require.NoError(t, err)
	defer a.close()

	// Every route echo serves, and every operation the document lists: the document is rendered
	// from the router's declarations, so this pins that nothing is added to echo around the router.
	var routes []string
	for _, r := range a.echo.Routes() {
		p := echoParam.ReplaceAllString(r.Path, "{$1}")
		p = strings.Replace(p, "/media/*", "/media/{key}", 1)
		p = strings.Replace(p, "/static/*", "/static/{path}", 1)
		routes = append(routes, r.Method+" "+p)
	}
	var documented []string
	raw := openAPIDocument(a.router.Routes())
	var parsed struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &parsed))
	for p, ops := range parsed.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	require.Equal(t, documented, routes, "every registered route is documented and every documented route exists")

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	a := setup(t)
	r := a.do("GET", "/openapi.json", nil, "")
	require.Equal(t, 200, r.Status)
	require.Equal(t, "3.1.0", r.JSON(t)["openapi"])
	d := a.do("GET", "/doc", nil, "")
	require.Equal(t, 200, d.Status)
	require.Contains(t, string(d.Body), "swagger-ui-bundle.js")
	require.Equal(t, 200, a.do("GET", "/static/vendor/swagger/swagger-ui-bundle.js", nil, "").Status)
}
