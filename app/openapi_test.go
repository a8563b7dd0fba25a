package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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

// TestOpenAPILint (issue 21): an independent linter, Redocly CLI with its recommended rules (pinned
// npm package, installed by scripts/deps.sh), finds no error in the document. Its warnings are
// operations that have no 4xx to declare (pages, health, CORS preflights) and the missing licence.
func TestOpenAPILint(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	cli := filepath.Join(playersDir(t), "@redocly", "cli", "bin", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		t.Skip("Redocly CLI is not installed (scripts/deps.sh test installs it)")
	}
	cfg, err := loadFor(t, nil, testenv.Env(t))
	require.NoError(t, err)
	a, err := build(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	require.NoError(t, err)
	defer a.close()
	doc := filepath.Join(t.TempDir(), "openapi.json")
	require.NoError(t, os.WriteFile(doc, openAPIDocument(a.router.Routes()), 0o644))
	cmd := exec.Command("node", cli, "lint", doc, "--format=json")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, _ := cmd.Output() // non-zero on errors; the report says which
	var report struct {
		Totals   struct{ Errors, Warnings int } `json:"totals"`
		Problems []struct {
			RuleID   string `json:"ruleId"`
			Severity string `json:"severity"`
			Message  string `json:"message"`
			Location []struct {
				Pointer string `json:"pointer"`
			} `json:"location"`
		} `json:"problems"`
	}
	require.NoError(t, json.Unmarshal(out, &report), "%s", out)
	for _, p := range report.Problems {
		if p.Severity == "error" {
			t.Errorf("%s: %s at %v", p.RuleID, p.Message, p.Location)
		}
	}
	require.Zero(t, report.Totals.Errors)
	t.Logf("Redocly recommended rules: 0 errors, %d warnings", report.Totals.Warnings)
}

// TestAPIClientUpToDate (issue 21): the committed OpenAPI document and the Go client generated from
// it (app/apiclient, oapi-codegen pinned in go.mod) are what the server's routes make today.
func TestAPIClientUpToDate(t *testing.T) {
	backendNeutral(t)
	t.Parallel()
	cfg, err := loadFor(t, nil, testenv.Env(t))
	require.NoError(t, err)
	a, err := build(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	require.NoError(t, err)
	defer a.close()
	committed, err := os.ReadFile("apiclient/openapi.json")
	require.NoError(t, err)
	// Not require.Equal: a diff of two 100 KB documents says less than the fix.
	require.True(t, string(openAPIDocument(a.router.Routes()))+"\n" == string(committed),
		"app/apiclient/openapi.json is stale: run go generate ./app/apiclient")

	// The committed configuration, writing elsewhere.
	dir := t.TempDir()
	out := filepath.Join(dir, "client.gen.go")
	conf, err := os.ReadFile("apiclient/oapi-codegen.yaml")
	require.NoError(t, err)
	conf = regexp.MustCompile(`(?m)^output: .*$`).ReplaceAll(conf, []byte("output: "+out))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "conf.yaml"), conf, 0o644))
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", filepath.Join(dir, "conf.yaml"), "openapi.json")
	cmd.Dir = "apiclient"
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	generated, err := os.ReadFile(out)
	require.NoError(t, err)
	current, err := os.ReadFile("apiclient/client.gen.go")
	require.NoError(t, err)
	require.True(t, string(generated) == string(current), "app/apiclient/client.gen.go is stale: run go generate ./app/apiclient")
}
