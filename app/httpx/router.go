package httpx

import (
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"
)

// Auth says who may call a route. The router attaches the matching guard and the OpenAPI
// document declares the matching security, from this one value.
type Auth int

const (
	Public   Auth = iota // anyone; no token is read
	Optional             // anyone; a valid token identifies the caller
	User                 // a logged-in user
	Admin                // an administrator
)

// Rate-limit groups (config keys ratelimit.upload, .metadata, .search, .api).
const (
	LimitNone     = ""
	LimitUpload   = "upload"
	LimitMetadata = "metadata"
	LimitSearch   = "search"
	LimitAPI      = "api"
)

// Obj is a piece of an OpenAPI document.
type Obj = map[string]any

// Doc is a route's OpenAPI operation, written next to the route itself.
type Doc struct {
	Summary   string
	Tag       string
	Params    []Obj
	Body      Obj
	Responses Obj
}

// Route is one endpoint as a module declares it: where, who may call it, its rate-limit group and
// its documentation. Path uses echo's syntax (":id", "*").
type Route struct {
	Method, Path string
	Handler      echo.HandlerFunc
	Auth         Auth
	Limit        string
	Doc          Doc
	// DocPath overrides the documented path where echo's differs ("/media/*" is "/media/{key}").
	DocPath string
	// Pre runs before the guard (headers every response needs, even a refusal).
	Pre []echo.MiddlewareFunc
}

// Router registers routes on echo and remembers them, so that the rate limiter and the OpenAPI
// document read the same declarations the server routes by.
type Router struct {
	e      *echo.Echo
	guards Guards
	reg    *registry
	mapErr func(error) error
}

type registry struct {
	routes []Route
	groups map[string]string
}

// NewRouter routes onto e, guarding with guards.
func NewRouter(e *echo.Echo, guards Guards) *Router {
	return &Router{e: e, guards: guards, reg: &registry{groups: map[string]string{}}}
}

// Add registers routes.
func (r *Router) Add(routes ...Route) {
	for _, rt := range routes {
		mw := append([]echo.MiddlewareFunc(nil), rt.Pre...)
		switch rt.Auth {
		case Optional:
			mw = append(mw, r.guards.OptionalUser)
		case User:
			mw = append(mw, r.guards.RequireUser)
		case Admin:
			mw = append(mw, r.guards.RequireAdmin)
		}
		h := rt.Handler
		if m := r.mapErr; m != nil {
			h = func(c echo.Context) error {
				if err := rt.Handler(c); err != nil {
					return m(err)
				}
				return nil
			}
		}
		r.e.Add(rt.Method, rt.Path, h, mw...)
		r.reg.routes = append(r.reg.routes, rt)
		r.reg.groups[rt.Method+" "+rt.Path] = rt.Limit
	}
}

// WithErrors returns a router whose handlers' errors pass through mapErr: the one place where a
// module turns its domain errors into HTTP errors (errors it does not know pass unchanged).
func (r *Router) WithErrors(mapErr func(error) error) *Router {
	c := *r
	c.mapErr = mapErr
	return &c
}

// Routes returns every route added, in order.
func (r *Router) Routes() []Route { return r.reg.routes }

// LimitGroup is the rate-limit group of the route echo matched (c.Path()).
func (r *Router) LimitGroup(method, path string) string { return r.reg.groups[method+" "+path] }

var echoParam = regexp.MustCompile(`:([a-z_]+)`)

// OpenAPIPath is the documented path of a route.
func (rt Route) OpenAPIPath() string {
	if rt.DocPath != "" {
		return rt.DocPath
	}
	return echoParam.ReplaceAllString(rt.Path, "{$1}")
}

// OperationID names the operation after its method and path, as generated clients call it
// (GET /api/v1/videos/{id} is get_videos_id; the web app's pages are page_...).
func (rt Route) OperationID() string {
	p := rt.OpenAPIPath()
	prefix := strings.ToLower(rt.Method)
	if rest, ok := strings.CutPrefix(p, "/api/v1"); ok {
		p = rest
	} else if rt.Doc.Tag == "web" {
		prefix = "page"
	}
	return prefix + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "", "-", "_").Replace(p)
}

// Operation renders the route's OpenAPI operation object.
func (rt Route) Operation() Obj {
	o := Obj{"summary": rt.Doc.Summary, "tags": []string{rt.Doc.Tag}, "responses": rt.Doc.Responses, "operationId": rt.OperationID()}
	if len(rt.Doc.Params) > 0 {
		o["parameters"] = rt.Doc.Params
	}
	if rt.Doc.Body != nil {
		o["requestBody"] = rt.Doc.Body
	}
	switch rt.Auth {
	case Public:
		o["security"] = []Obj{} // says so: no credential
	case User, Admin:
		o["security"] = []Obj{{"bearer": []string{}}}
	case Optional:
		o["security"] = []Obj{{"bearer": []string{}}, {}}
	}
	return o
}

// Helpers for writing Docs.

var (
	StrType = Obj{"type": "string"}
	StrNull = Obj{"type": []string{"string", "null"}}
	Integer = Obj{"type": "integer"}
	Number  = Obj{"type": "number"}
	AnyObj  = Obj{"type": "object"}
)

// Ref points at a schema of the document's components.
func Ref(name string) Obj { return Obj{"$ref": "#/components/schemas/" + name} }

// JSONBody is a JSON request body of the given schema.
func JSONBody(schema Obj) Obj { return Obj{"content": Obj{"application/json": Obj{"schema": schema}}} }

// Resp is a response, with a JSON body when schema is set.
func Resp(desc string, schema Obj) Obj {
	r := Obj{"description": desc}
	if schema != nil {
		r["content"] = Obj{"application/json": Obj{"schema": schema}}
	}
	return r
}

// Content is a response of another media type.
func Content(desc, mediaType string, schema Obj) Obj {
	return Obj{"description": desc, "content": Obj{mediaType: Obj{"schema": schema}}}
}

// ErrResp is an error response in the API's error shape.
func ErrResp(desc string) Obj { return Resp(desc, Ref("Error")) }

// NoBody is a response without a body.
func NoBody(desc string) Obj { return Obj{"description": desc} }

// PathParam is a required path parameter.
func PathParam(name, desc string) Obj {
	return Obj{"name": name, "in": "path", "required": true, "description": desc, "schema": StrType}
}

// QueryParam is an optional query parameter.
func QueryParam(name, desc string, schema Obj) Obj {
	return Obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

// Paging are the list parameters.
var Paging = []Obj{QueryParam("limit", "page size, 1 to 100", Obj{"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
	QueryParam("cursor", "opaque cursor from next_cursor", StrType)}

// VideoIDParam is the {id} of a video.
var VideoIDParam = PathParam("id", "video id (UUID)")

// Multipart is a multipart/form-data body.
func Multipart(required []string, props Obj) Obj {
	return Obj{"content": Obj{"multipart/form-data": Obj{"schema": Obj{"type": "object", "required": required, "properties": props}}}}
}

// Object is an object schema.
func Object(required []string, props Obj) Obj {
	o := Obj{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}
