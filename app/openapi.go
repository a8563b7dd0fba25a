package app

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"vod/app/httpx"

	"github.com/labstack/echo/v4"
)

// The OpenAPI document of everything the app serves. It lives in the composition root because only
// it knows every module's routes; TestOpenAPIMatchesRoutes fails when the two drift apart.

type obj = httpx.Obj

func schemas() obj {
	props := func(kv ...any) obj {
		o := obj{}
		for i := 0; i+1 < len(kv); i += 2 {
			o[kv[i].(string)] = kv[i+1]
		}
		return o
	}
	object := httpx.Object
	ts := obj{"type": "string", "format": "date-time"}
	return obj{
		"Error": object([]string{"error"}, props("error", object([]string{"code", "message"}, props(
			"code", httpx.StrType, "message", httpx.StrType, "fields", obj{"type": "object", "additionalProperties": httpx.StrType})))),
		"User": object([]string{"id", "username", "email", "role", "created_at"}, props(
			"id", httpx.StrType, "username", httpx.StrType, "email", httpx.StrType, "first_name", httpx.StrType, "last_name", httpx.StrType,
			"role", obj{"type": "string", "enum": []string{"user", "admin"}}, "disabled", obj{"type": "boolean"}, "created_at", ts)),
		"Tokens": object([]string{"access_token", "refresh_token", "token_type", "expires_in", "user"}, props(
			"access_token", httpx.StrType, "refresh_token", httpx.StrType, "token_type", obj{"type": "string", "enum": []string{"Bearer"}},
			"expires_in", httpx.Integer, "user", httpx.Ref("User"))),
		"Subtitle": object([]string{"lang", "label", "source", "url"}, props(
			"lang", httpx.StrType, "label", httpx.StrType, "source", obj{"type": "string", "enum": []string{"embedded", "uploaded", "translated"}}, "url", httpx.StrType)),
		"Video": object([]string{"id", "title", "visibility", "owner", "status", "progress"}, props(
			"id", httpx.StrType, "title", httpx.StrType, "description", httpx.StrType,
			"visibility", obj{"type": "string", "enum": []string{"public", "unlisted", "private"}},
			"owner", object([]string{"id", "username"}, props("id", httpx.StrType, "username", httpx.StrType)),
			"status", obj{"type": "string", "enum": []string{"uploading", "queued", "processing", "ready", "failed"}},
			"stage", httpx.StrType, "progress", obj{"type": "integer", "minimum": 0, "maximum": 100}, "error", httpx.StrNull,
			"notes", obj{"type": "array", "items": httpx.StrType}, "duration_seconds", httpx.Number, "available_seconds", httpx.Number,
			"views", obj{"type": "integer", "minimum": 0, "description": "viewers, each counted once a day"}, "queue_position", obj{"type": []string{"integer", "null"}, "minimum": 0, "description": "videos uploaded before this one still being processed (older videos go first); null when ready or failed, and in lists"}, "width", httpx.Integer, "height", httpx.Integer,
			"created_at", ts, "ready_at", obj{"type": []string{"string", "null"}, "format": "date-time"},
			"renditions", obj{"type": "array", "items": object([]string{"width", "height", "bandwidth", "codecs"}, props(
				"width", httpx.Integer, "height", httpx.Integer, "bandwidth", httpx.Integer, "codecs", httpx.StrType))},
			"subtitles", obj{"type": "array", "items": httpx.Ref("Subtitle")},
			"audio_tracks", obj{"type": "array", "items": object([]string{"lang", "label", "default", "channels"}, props(
				"lang", httpx.StrType, "label", httpx.StrType, "default", obj{"type": "boolean"}, "channels", obj{"type": "integer", "enum": []int{2, 6, 8}}))},
			"thumbnails", object(nil, props("poster", httpx.StrNull, "storyboard", httpx.StrNull)),
			"protection", obj{"type": "string", "enum": []string{"none", "clearkey"}, "description": "clearkey: segments encrypted with Common Encryption; players get the key from playback.license"},
			"playback", object(nil, props("dash", httpx.StrNull, "hls", obj{"type": []string{"string", "null"}, "description": "null for protected videos"},
				"mp4", obj{"type": []string{"string", "null"}, "description": "of a protected video, only for its owner and admins"},
				"license", obj{"type": []string{"string", "null"}, "description": "W3C ClearKey licence URL of a protected video"})))),
		"SourceLink": object([]string{"url", "expires_at", "filename", "size"}, props(
			"url", httpx.StrType, "expires_at", ts, "filename", httpx.StrType, "size", httpx.Integer)),
		"ViewCount": object([]string{"views", "counted"}, props("views", httpx.Integer, "counted", obj{"type": "boolean", "description": "false when this viewer was already counted today"})),
		"VideoList": object([]string{"items", "next_cursor"}, props("items", obj{"type": "array", "items": httpx.Ref("Video")}, "next_cursor", httpx.StrNull)),
		"SearchResult": object([]string{"items", "next_cursor", "total"}, props(
			"items", obj{"type": "array", "items": object([]string{"video", "score", "highlights", "cues"}, props(
				"video", httpx.Ref("Video"), "score", httpx.Number,
				"highlights", obj{"type": "object", "additionalProperties": obj{"type": "array", "items": httpx.StrType}},
				"cues", obj{"type": "array", "items": object([]string{"lang", "start", "end", "text"}, props(
					"lang", httpx.StrType, "start", httpx.Number, "end", httpx.Number, "text", httpx.StrType))}))},
			"next_cursor", httpx.StrNull, "total", httpx.Integer)),
	}
}

// openAPIDocument renders the document from the routes as declared: a route cannot exist without
// its operation, and an operation cannot outlive its route.
func openAPIDocument(routes []httpx.Route) []byte {
	paths := obj{}
	for _, rt := range routes {
		p := rt.OpenAPIPath()
		item, _ := paths[p].(obj)
		if item == nil {
			item = obj{}
			paths[p] = item
		}
		item[strings.ToLower(rt.Method)] = rt.Operation()
	}
	doc := obj{
		"openapi": "3.1.0",
		"info": obj{"title": "vod API", "version": "1.0.0",
			"description": "Self-hosted video on demand. Errors are {\"error\":{\"code\",\"message\",\"fields\"}}; lists take ?limit and ?cursor."},
		"servers": []obj{{"url": "/", "description": "the server that serves this document"}},
		"paths":   paths,
		"components": obj{"schemas": schemas(),
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
	}
	addExamples(paths, doc["components"].(obj)["schemas"].(obj))
	b, _ := json.MarshalIndent(doc, "", "  ")
	return b
}

// addExamples gives every JSON request and response body an example built from its schema, so that
// the rendered documentation and generated clients show a value of every field (a linter checks
// each against its schema).
func addExamples(paths, schemas obj) {
	for _, item := range paths {
		for _, op := range item.(obj) {
			o := op.(obj)
			if body, ok := o["requestBody"].(obj); ok {
				addMediaExamples(body, schemas)
			}
			if responses, ok := o["responses"].(obj); ok {
				for _, r := range responses {
					if resp, ok := r.(obj); ok {
						addMediaExamples(resp, schemas)
					}
				}
			}
		}
	}
}

func addMediaExamples(holder, schemas obj) {
	content, ok := holder["content"].(obj)
	if !ok {
		return
	}
	for mt, m := range content {
		media, ok := m.(obj)
		if !ok || mt != "application/json" {
			continue
		}
		if schema, ok := media["schema"].(obj); ok {
			// A copy: the holder may be shared by several operations.
			cp := obj{}
			for k, v := range media {
				cp[k] = v
			}
			cp["example"] = exampleOf(schema, schemas, 0)
			content[mt] = cp
		}
	}
}

// exampleOf is a value that satisfies schema: the first enum value, the minimum, a date for a
// date-time, every property of an object.
func exampleOf(schema, schemas obj, depth int) any {
	if ref, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if s, ok := schemas[name].(obj); ok && depth < 8 {
			return exampleOf(s, schemas, depth+1)
		}
		return nil
	}
	if enum, ok := schema["enum"]; ok {
		switch e := enum.(type) {
		case []string:
			return e[0]
		case []int:
			return e[0]
		case []any:
			return e[0]
		}
	}
	typ := schema["type"]
	if list, ok := typ.([]string); ok {
		typ = list[0] // ["string", "null"]: the value
	}
	switch typ {
	case "string":
		switch schema["format"] {
		case "date-time":
			return "2026-01-02T15:04:05Z"
		case "binary":
			return nil
		}
		return "string"
	case "integer":
		if m, ok := schema["minimum"].(int); ok {
			return m
		}
		return 1
	case "number":
		return 1.5
	case "boolean":
		return true
	case "array":
		if items, ok := schema["items"].(obj); ok {
			return []any{exampleOf(items, schemas, depth+1)}
		}
		return []any{}
	case "object", nil:
		out := obj{}
		if props, ok := schema["properties"].(obj); ok {
			for k, p := range props {
				if ps, ok := p.(obj); ok {
					if v := exampleOf(ps, schemas, depth+1); v != nil {
						out[k] = v
					}
				}
			}
		}
		if ap, ok := schema["additionalProperties"].(obj); ok && len(out) == 0 {
			out["key"] = exampleOf(ap, schemas, depth+1)
		}
		return out
	}
	return nil
}

const docPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vod API</title><link rel="stylesheet" href="/static/vendor/swagger/swagger-ui.css"></head>
<body><div id="doc"></div>
<script src="/static/vendor/swagger/swagger-ui-bundle.js"></script>
<script src="/static/doc.js"></script>
</body></html>`

// mountOperations declares the operational endpoints.
func (a *App) mountOperations() {
	anyObj := httpx.AnyObj
	a.router.Add(
		httpx.Route{Method: http.MethodGet, Path: "/healthz", Handler: a.healthz,
			Doc: httpx.Doc{Tag: "operations", Summary: "Liveness", Responses: httpx.Obj{"200": httpx.Resp("alive", anyObj)}}},
		httpx.Route{Method: http.MethodGet, Path: "/readyz", Handler: a.readyz,
			Doc: httpx.Doc{Tag: "operations", Summary: "Readiness: database, storage, ffmpeg",
				Responses: httpx.Obj{"200": httpx.Resp("ready", anyObj), "503": httpx.Resp("not ready", anyObj)}}},
		httpx.Route{Method: http.MethodGet, Path: "/metrics", Handler: a.metricsHandler(),
			Doc: httpx.Doc{Tag: "operations", Summary: "Prometheus metrics, for the bearer token of metrics.token (or on metrics.addr)",
				Responses: httpx.Obj{"200": httpx.Content("text exposition format", "text/plain", httpx.StrType), "404": httpx.ErrResp("no metrics token configured, or a wrong one")}}},
	)
}

// metricsHandler serves /metrics on the main address only to the bearer of metrics.token; without a
// token configured it does not exist there (metrics.addr serves it on a private address instead).
func (a *App) metricsHandler() echo.HandlerFunc {
	h := echo.WrapHandler(a.metrics.Handler())
	want := []byte("Bearer " + a.cfg.Metrics.Token)
	return func(c echo.Context) error {
		got := []byte(c.Request().Header.Get(echo.HeaderAuthorization))
		if a.cfg.Metrics.Token == "" || subtle.ConstantTimeCompare(got, want) != 1 {
			return httpx.NotFound("route")
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return h(c)
	}
}

// mountOpenAPI serves the document of every route declared so far (it is mounted last).
func (a *App) mountOpenAPI() {
	var once sync.Once
	var doc []byte
	a.router.Add(
		httpx.Route{Method: http.MethodGet, Path: "/openapi.json", Handler: func(c echo.Context) error {
			once.Do(func() { doc = openAPIDocument(a.router.Routes()) })
			c.Response().Header().Set("Access-Control-Allow-Origin", "*")
			return c.JSONBlob(http.StatusOK, doc)
		}, Doc: httpx.Doc{Tag: "operations", Summary: "This document",
			Responses: httpx.Obj{"200": httpx.Resp("OpenAPI document", httpx.AnyObj)}}},
		httpx.Route{Method: http.MethodGet, Path: "/doc", Handler: func(c echo.Context) error {
			c.Response().Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
			return c.HTML(http.StatusOK, docPage)
		},
			Doc: httpx.Doc{Tag: "operations", Summary: "Rendered API documentation", Responses: httpx.Obj{"200": httpx.Content("HTML", "text/html", httpx.StrType)}}},
	)
}
