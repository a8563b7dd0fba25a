package app

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// The OpenAPI document of everything the app serves. It lives in the composition root because only
// it knows every module's routes; TestOpenAPIMatchesRoutes fails when the two drift apart.

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func jsonBody(schema obj) obj {
	return obj{"content": obj{"application/json": obj{"schema": schema}}}
}

func resp(desc string, schema obj) obj {
	r := obj{"description": desc}
	if schema != nil {
		r["content"] = obj{"application/json": obj{"schema": schema}}
	}
	return r
}

func errResp(desc string) obj { return resp(desc, ref("Error")) }

type opSpec struct {
	method, path, summary, tag string
	auth                       string // "", "required", "optional", "admin"
	params                     []obj
	body                       obj
	responses                  obj
}

func pathParam(name, desc string) obj {
	return obj{"name": name, "in": "path", "required": true, "description": desc, "schema": obj{"type": "string"}}
}

func queryParam(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

var (
	strType = obj{"type": "string"}
	strNull = obj{"type": []string{"string", "null"}}
	integer = obj{"type": "integer"}
	number  = obj{"type": "number"}
	idParam = pathParam("id", "video id (UUID)")
	paging  = []obj{queryParam("limit", "page size, 1 to 100", obj{"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
		queryParam("cursor", "opaque cursor from next_cursor", strType)}
)

func schemas() obj {
	props := func(kv ...any) obj {
		o := obj{}
		for i := 0; i+1 < len(kv); i += 2 {
			o[kv[i].(string)] = kv[i+1]
		}
		return o
	}
	object := func(required []string, p obj) obj {
		return obj{"type": "object", "required": required, "properties": p}
	}
	ts := obj{"type": "string", "format": "date-time"}
	return obj{
		"Error": object([]string{"error"}, props("error", object([]string{"code", "message"}, props(
			"code", strType, "message", strType, "fields", obj{"type": "object", "additionalProperties": strType})))),
		"User": object([]string{"id", "username", "email", "role", "created_at"}, props(
			"id", strType, "username", strType, "email", strType, "first_name", strType, "last_name", strType,
			"role", obj{"type": "string", "enum": []string{"user", "admin"}}, "disabled", obj{"type": "boolean"}, "created_at", ts)),
		"Tokens": object([]string{"access_token", "refresh_token", "token_type", "expires_in", "user"}, props(
			"access_token", strType, "refresh_token", strType, "token_type", obj{"type": "string", "enum": []string{"Bearer"}},
			"expires_in", integer, "user", ref("User"))),
		"Subtitle": object([]string{"lang", "label", "source", "url"}, props(
			"lang", strType, "label", strType, "source", obj{"type": "string", "enum": []string{"embedded", "uploaded", "translated"}}, "url", strType)),
		"Video": object([]string{"id", "title", "visibility", "owner", "status", "progress"}, props(
			"id", strType, "title", strType, "description", strType,
			"visibility", obj{"type": "string", "enum": []string{"public", "unlisted", "private"}},
			"owner", object([]string{"id", "username"}, props("id", strType, "username", strType)),
			"status", obj{"type": "string", "enum": []string{"uploading", "queued", "processing", "ready", "failed"}},
			"stage", strType, "progress", obj{"type": "integer", "minimum": 0, "maximum": 100}, "error", strNull,
			"notes", obj{"type": "array", "items": strType}, "duration_seconds", number, "width", integer, "height", integer,
			"created_at", ts, "ready_at", obj{"type": []string{"string", "null"}, "format": "date-time"},
			"renditions", obj{"type": "array", "items": object([]string{"width", "height", "bandwidth", "codecs"}, props(
				"width", integer, "height", integer, "bandwidth", integer, "codecs", strType))},
			"subtitles", obj{"type": "array", "items": ref("Subtitle")},
			"thumbnails", object(nil, props("poster", strNull, "storyboard", strNull)),
			"playback", object(nil, props("dash", strNull, "hls", strNull, "mp4", strNull)))),
		"VideoList": object([]string{"items", "next_cursor"}, props("items", obj{"type": "array", "items": ref("Video")}, "next_cursor", strNull)),
		"SearchResult": object([]string{"items", "next_cursor", "total"}, props(
			"items", obj{"type": "array", "items": object([]string{"video", "score", "highlights", "cues"}, props(
				"video", ref("Video"), "score", number,
				"highlights", obj{"type": "object", "additionalProperties": obj{"type": "array", "items": strType}},
				"cues", obj{"type": "array", "items": object([]string{"lang", "start", "end", "text"}, props(
					"lang", strType, "start", number, "end", number, "text", strType))}))},
			"next_cursor", strNull, "total", integer)),
	}
}

func operations() []opSpec {
	video := obj{"type": "object", "properties": obj{"video": ref("Video")}}
	user := obj{"type": "object", "properties": obj{"user": ref("User")}}
	refreshBody := jsonBody(obj{"type": "object", "required": []string{"refresh_token"}, "properties": obj{"refresh_token": strType}})
	media := func(m string) opSpec {
		return opSpec{method: m, path: "/media/{key}", tag: "media", summary: "Manifests, segments, subtitles and images (Range, ETag, CORS); private media under /media/s/{token}/...",
			params: []obj{pathParam("key", "storage key under videos/{id}/, optionally prefixed by s/{token}/")},
			responses: obj{"200": obj{"description": "the object"}, "206": obj{"description": "a byte range"}, "304": obj{"description": "not modified"},
				"204": obj{"description": "CORS preflight"}, "404": errResp("no such media, or not visible")}}
	}
	page := func(p string) opSpec {
		params := []obj{}
		if strings.Contains(p, "{id}") {
			params = append(params, idParam)
		}
		return opSpec{method: "GET", path: p, tag: "web", summary: "Web app page", params: params,
			responses: obj{"200": obj{"description": "HTML", "content": obj{"text/html": obj{"schema": strType}}}}}
	}
	adminUser := func(action string) opSpec {
		return opSpec{method: "POST", path: "/api/v1/admin/users/{id}/" + action, tag: "admin", auth: "admin", summary: strings.ToUpper(action[:1]) + action[1:] + " a user",
			params: []obj{pathParam("id", "user id")}, responses: obj{"200": resp("user", user), "404": errResp("no such user"), "409": errResp("not on yourself")}}
	}
	ops := []opSpec{
		{method: "POST", path: "/api/v1/auth/signup", tag: "auth", summary: "Create an account",
			body: jsonBody(obj{"type": "object", "required": []string{"username", "email", "password", "password_confirm", "first_name", "last_name"},
				"properties": obj{"username": strType, "email": strType, "password": strType, "password_confirm": strType, "first_name": strType, "last_name": strType}}),
			responses: obj{"201": resp("created", user), "409": errResp("username or email taken"), "422": errResp("invalid fields")}},
		{method: "POST", path: "/api/v1/auth/login", tag: "auth", summary: "Log in with username or email",
			body:      jsonBody(obj{"type": "object", "required": []string{"credential", "password"}, "properties": obj{"credential": strType, "password": strType}}),
			responses: obj{"200": resp("tokens", ref("Tokens")), "401": errResp("wrong credentials"), "429": errResp("too many failures; see Retry-After")}},
		{method: "POST", path: "/api/v1/auth/refresh", tag: "auth", summary: "Rotate a refresh token", body: refreshBody,
			responses: obj{"200": resp("tokens", ref("Tokens")), "401": errResp("invalid, expired or reused token")}},
		{method: "POST", path: "/api/v1/auth/logout", tag: "auth", summary: "Revoke a session", body: refreshBody,
			responses: obj{"204": obj{"description": "logged out"}}},
		{method: "GET", path: "/api/v1/auth/me", tag: "auth", auth: "required", summary: "The current user",
			responses: obj{"200": resp("user", user), "401": errResp("not logged in")}},
		{method: "GET", path: "/.well-known/jwks.json", tag: "auth", summary: "Public keys that verify access tokens",
			responses: obj{"200": resp("JWK set", obj{"type": "object"})}},
		{method: "POST", path: "/api/v1/videos", tag: "videos", auth: "required", summary: "Upload a video (multipart, streamed)",
			body: obj{"content": obj{"multipart/form-data": obj{"schema": obj{"type": "object", "required": []string{"file"},
				"properties": obj{"file": obj{"type": "string", "format": "binary"}, "title": strType, "description": strType, "visibility": strType}}}}},
			responses: obj{"202": resp("accepted and queued", video), "413": errResp("too large"), "415": errResp("not multipart"), "422": errResp("invalid fields or unreadable media")}},
		{method: "POST", path: "/api/v1/uploads", tag: "videos", auth: "required", summary: "Start a direct upload",
			body: jsonBody(obj{"type": "object", "required": []string{"size"}, "properties": obj{"title": strType, "description": strType, "visibility": strType,
				"filename": strType, "size": integer, "content_type": strType}}),
			responses: obj{"201": resp("where to PUT the file", obj{"type": "object", "properties": obj{"upload_id": strType, "video_id": strType,
				"upload_url": strType, "method": strType, "headers": obj{"type": "object"}, "expires_at": obj{"type": "string", "format": "date-time"}}}),
				"413": errResp("too large"), "422": errResp("invalid fields")}},
		{method: "PUT", path: "/api/v1/uploads/{id}/data", tag: "videos", summary: "Direct upload target on local storage (signed URL)",
			params:    []obj{pathParam("id", "upload id"), queryParam("expires", "expiry (unix seconds)", integer), queryParam("signature", "URL signature", strType)},
			body:      obj{"content": obj{"application/octet-stream": obj{"schema": obj{"type": "string", "format": "binary"}}}},
			responses: obj{"200": obj{"description": "stored"}, "403": errResp("bad or expired signature"), "404": errResp("no such pending upload")}},
		{method: "POST", path: "/api/v1/uploads/{id}/complete", tag: "videos", auth: "required", summary: "Finish a direct upload",
			params:    []obj{pathParam("id", "upload id")},
			responses: obj{"202": resp("accepted and queued", video), "404": errResp("no such pending upload"), "409": errResp("nothing uploaded yet"), "422": errResp("unreadable media")}},
		{method: "GET", path: "/api/v1/videos", tag: "videos", auth: "optional", summary: "List videos (ready and public; owners see all of theirs)",
			params: append([]obj{queryParam("owner", "username", strType)}, paging...), responses: obj{"200": resp("page", ref("VideoList"))}},
		{method: "GET", path: "/api/v1/videos/{id}", tag: "videos", auth: "optional", summary: "A video with its playback URLs",
			params: []obj{idParam}, responses: obj{"200": resp("video", video), "404": errResp("not found or not visible")}},
		{method: "PATCH", path: "/api/v1/videos/{id}", tag: "videos", auth: "required", summary: "Edit title, description, visibility (owner or admin)",
			params:    []obj{idParam},
			body:      jsonBody(obj{"type": "object", "properties": obj{"title": strType, "description": strType, "visibility": strType}}),
			responses: obj{"200": resp("video", video), "403": errResp("not yours"), "404": errResp("not found"), "422": errResp("invalid fields")}},
		{method: "DELETE", path: "/api/v1/videos/{id}", tag: "videos", auth: "required", summary: "Delete a video everywhere (owner or admin)",
			params: []obj{idParam}, responses: obj{"204": obj{"description": "deleted"}, "403": errResp("not yours"), "404": errResp("not found")}},
		{method: "GET", path: "/api/v1/videos/{id}/events", tag: "videos", auth: "optional", summary: "Processing status as server-sent events until ready or failed",
			params: []obj{idParam}, responses: obj{"200": obj{"description": "event stream", "content": obj{"text/event-stream": obj{"schema": strType}}}, "404": errResp("not found")}},
		{method: "POST", path: "/api/v1/videos/{id}/subtitles", tag: "videos", auth: "required", summary: "Add a subtitle track (.srt or .vtt)",
			params: []obj{idParam},
			body: obj{"content": obj{"multipart/form-data": obj{"schema": obj{"type": "object", "required": []string{"file", "lang"},
				"properties": obj{"file": obj{"type": "string", "format": "binary"}, "lang": strType, "label": strType}}}}},
			responses: obj{"201": resp("track", obj{"type": "object", "properties": obj{"subtitle": ref("Subtitle")}}), "422": errResp("invalid track")}},
		{method: "POST", path: "/api/v1/videos/{id}/subtitles/{lang}/translations", tag: "videos", auth: "required",
			summary: "Translate a subtitle track on demand (owner or admin)", params: []obj{idParam, pathParam("lang", "source track language")},
			body: jsonBody(obj{"type": "object", "required": []string{"target"}, "properties": obj{"target": strType}}),
			responses: obj{"202": resp("queued", obj{"type": "object"}), "404": errResp("no such video or track"),
				"409": errResp("no provider configured"), "422": errResp("invalid target")}},
		{method: "POST", path: "/api/v1/videos/{id}/reprocess", tag: "videos", auth: "required", summary: "Process the kept source again (owner or admin)",
			params: []obj{idParam}, responses: obj{"202": resp("queued", video), "409": errResp("still processing or source gone")}},
		{method: "GET", path: "/api/v1/search", tag: "search", auth: "optional", summary: "Search titles, descriptions and subtitles",
			params: append([]obj{queryParam("q", "query: words (stemmed; one typo forgiven in words of 5+ letters), \"phrases\", and the last word as a prefix of titles and descriptions", strType),
				queryParam("scope", "all, metadata or subtitles", obj{"type": "string", "enum": []string{"all", "metadata", "subtitles"}}),
				queryParam("lang", "subtitle language tag (fr matches fr-CA): only that track's cues match", strType)}, paging...),
			responses: obj{"200": resp("results", ref("SearchResult")), "422": errResp("invalid query"), "503": errResp("index being rebuilt")}},
		{method: "GET", path: "/api/v1/admin/jobs", tag: "admin", auth: "admin", summary: "Jobs by state and kind, with their video, attempts, last error and, while running, the video's stage and progress",
			params:    append([]obj{queryParam("state", "River job state", strType), queryParam("kind", "job kind", strType)}, paging...),
			responses: obj{"200": resp("page of jobs", obj{"type": "object"}), "403": errResp("admins only")}},
		{method: "POST", path: "/api/v1/admin/jobs/{id}/retry", tag: "admin", auth: "admin", summary: "Retry a job",
			params: []obj{pathParam("id", "job id")}, responses: obj{"200": resp("job", obj{"type": "object"}), "404": errResp("no such job")}},
		{method: "POST", path: "/api/v1/admin/jobs/{id}/cancel", tag: "admin", auth: "admin", summary: "Cancel a job",
			params: []obj{pathParam("id", "job id")}, responses: obj{"200": resp("job", obj{"type": "object"}), "404": errResp("no such job")}},
		{method: "GET", path: "/api/v1/admin/videos", tag: "admin", auth: "admin", summary: "Every video of every user",
			params: append([]obj{queryParam("status", "filter by status", strType)}, paging...), responses: obj{"200": resp("page", ref("VideoList")), "403": errResp("admins only")}},
		{method: "GET", path: "/api/v1/admin/users", tag: "admin", auth: "admin", summary: "Users",
			params: append([]obj{queryParam("q", "username or email contains", strType)}, paging...), responses: obj{"200": resp("page", obj{"type": "object"}), "403": errResp("admins only")}},
		adminUser("disable"), adminUser("enable"), adminUser("promote"), adminUser("demote"),
		{method: "GET", path: "/healthz", tag: "operations", summary: "Liveness", responses: obj{"200": resp("alive", obj{"type": "object"})}},
		{method: "GET", path: "/readyz", tag: "operations", summary: "Readiness: database, storage, ffmpeg",
			responses: obj{"200": resp("ready", obj{"type": "object"}), "503": resp("not ready", obj{"type": "object"})}},
		{method: "GET", path: "/metrics", tag: "operations", summary: "Prometheus metrics",
			responses: obj{"200": obj{"description": "text exposition format", "content": obj{"text/plain": obj{"schema": strType}}}}},
		{method: "GET", path: "/openapi.json", tag: "operations", summary: "This document", responses: obj{"200": resp("OpenAPI document", obj{"type": "object"})}},
		{method: "GET", path: "/doc", tag: "operations", summary: "Rendered API documentation",
			responses: obj{"200": obj{"description": "HTML", "content": obj{"text/html": obj{"schema": strType}}}}},
		{method: "GET", path: "/static/{path}", tag: "web", summary: "Web app assets", params: []obj{pathParam("path", "asset path")},
			responses: obj{"200": obj{"description": "asset"}, "404": obj{"description": "no such asset"}}},
		media("GET"), media("HEAD"), media("OPTIONS"),
	}
	for _, p := range []string{"/", "/watch/{id}", "/search", "/upload", "/login", "/signup", "/me", "/admin"} {
		ops = append(ops, page(p))
	}
	return ops
}

// openAPIDocument renders the document.
func openAPIDocument() []byte {
	paths := obj{}
	for _, op := range operations() {
		item, _ := paths[op.path].(obj)
		if item == nil {
			item = obj{}
			paths[op.path] = item
		}
		o := obj{"summary": op.summary, "tags": []string{op.tag}, "responses": op.responses,
			"operationId": strings.ToLower(op.method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "", "-", "_").Replace(op.path)}
		if len(op.params) > 0 {
			o["parameters"] = op.params
		}
		if op.body != nil {
			o["requestBody"] = op.body
		}
		switch op.auth {
		case "required", "admin":
			o["security"] = []obj{{"bearer": []string{}}}
		case "optional":
			o["security"] = []obj{{"bearer": []string{}}, {}}
		}
		item[strings.ToLower(op.method)] = o
	}
	doc := obj{
		"openapi": "3.1.0",
		"info": obj{"title": "vod API", "version": "1.0.0",
			"description": "Self-hosted video on demand. Errors are {\"error\":{\"code\",\"message\",\"fields\"}}; lists take ?limit and ?cursor."},
		"paths": paths,
		"components": obj{"schemas": schemas(),
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return b
}

const docPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vod API</title><link rel="stylesheet" href="/static/vendor/swagger/swagger-ui.css"></head>
<body><div id="doc"></div>
<script src="/static/vendor/swagger/swagger-ui-bundle.js"></script>
<script src="/static/doc.js"></script>
</body></html>`

func (a *App) mountOpenAPI() {
	doc := openAPIDocument()
	a.echo.GET("/openapi.json", func(c echo.Context) error {
		c.Response().Header().Set("Access-Control-Allow-Origin", "*")
		return c.JSONBlob(http.StatusOK, doc)
	})
	a.echo.GET("/doc", func(c echo.Context) error { return c.HTML(http.StatusOK, docPage) })
}
