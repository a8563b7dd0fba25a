package stream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"vod/app/httpx"
	"vod/app/vodtype"
)

// Keys finds a protected video's content keys by the key ids a player asks for (implemented by
// transcode, which makes and keeps them).
type Keys interface {
	ContentKeys(ctx context.Context, videoID string, kids [][16]byte) ([]vodtype.ContentKey, error)
}

// ErrNoKey: the video is not protected, or has none of the keys asked for.
var ErrNoKey = errors.New("stream: no such content key")

// licenseRequest is the W3C Encrypted Media Extensions ClearKey licence request.
type licenseRequest struct {
	Kids []string `json:"kids"`
	Type string   `json:"type"`
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	K   string `json:"k"`
}

// licenseResponse is the ClearKey licence: a JSON Web Key set of symmetric keys.
type licenseResponse struct {
	Keys []jwk  `json:"keys"`
	Type string `json:"type"`
}

func (d *Delivery) licenseRoutes() []httpx.Route {
	id := []httpx.Obj{httpx.VideoIDParam, httpx.QueryParam("token", "signed playback token of a private video (from playback.license)", httpx.StrType)}
	kidList := httpx.Obj{"type": "array", "minItems": 1, "maxItems": 16, "items": httpx.Obj{"type": "string", "description": "key id, base64url without padding"}}
	return []httpx.Route{
		{Method: http.MethodPost, Path: "/api/v1/videos/:id/license", Handler: d.handleLicense, Auth: httpx.Optional, Limit: httpx.LimitMetadata,
			Doc: httpx.Doc{Tag: "videos", Summary: "W3C ClearKey licence of a protected video: its content keys, for callers allowed to watch it (never cached)", Params: id,
				Body: httpx.JSONBody(httpx.Object([]string{"kids"}, httpx.Obj{"kids": kidList, "type": httpx.Obj{"type": "string", "enum": []string{"temporary"}}})),
				Responses: httpx.Obj{
					"200": httpx.Resp("the keys (JSON Web Key set)", httpx.Object([]string{"keys", "type"}, httpx.Obj{
						"keys": httpx.Obj{"type": "array", "items": httpx.Object([]string{"kty", "kid", "k"}, httpx.Obj{"kty": httpx.Obj{"type": "string", "enum": []string{"oct"}}, "kid": httpx.StrType, "k": httpx.StrType})},
						"type": httpx.StrType})),
					"400": httpx.ErrResp("not a licence request"), "404": httpx.ErrResp("no such video, not allowed to watch it, or no such key"),
					"422": httpx.ErrResp("invalid key ids")}}},
		{Method: http.MethodOptions, Path: "/api/v1/videos/:id/license", Handler: d.handleLicense,
			Doc: httpx.Doc{Tag: "videos", Summary: "CORS preflight of the licence request", Params: id,
				Responses: httpx.Obj{"204": httpx.NoBody("CORS preflight")}}},
	}
}

// handleLicense hands a protected video's keys to a caller allowed to watch it: its owner and
// admins, anyone for public and unlisted videos, and for private ones whoever holds the signed token
// of its playback URLs (an embed). It reads the body whatever its content type, since players send
// the request as the CDM made it (text or bytes). The answer is never stored by anyone, and the key
// is never logged (the access log has the path only).
func (d *Delivery) handleLicense(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store")
	if c.Request().Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "86400")
		return c.NoContent(http.StatusNoContent)
	}
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return ErrNoVideo
	}
	ctx := c.Request().Context()
	r, err := d.catalog.row(ctx, id)
	if err != nil {
		return err
	}
	caller, ok := httpx.CallerFrom(c)
	tok := c.QueryParam("token")
	if !canSee(r, caller, ok) && !d.catalog.tokenFor(tok, id) {
		return ErrNoVideo
	}
	if r.protection() != vodtype.ProtectionClearKey {
		return ErrNoKey
	}
	var req licenseRequest
	if err := json.NewDecoder(io.LimitReader(c.Request().Body, 16<<10)).Decode(&req); err != nil {
		return httpx.E(http.StatusBadRequest, "bad_request", "the body is not a ClearKey licence request ({\"kids\": [...], \"type\": \"temporary\"})")
	}
	if req.Type != "" && req.Type != "temporary" {
		return httpx.Validation(map[string]string{"type": "only temporary licences are given"})
	}
	if len(req.Kids) == 0 || len(req.Kids) > 16 {
		return httpx.Validation(map[string]string{"kids": "must list 1 to 16 key ids"})
	}
	kids := make([][16]byte, len(req.Kids))
	for i, k := range req.Kids {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
		if err != nil || len(raw) != 16 {
			return httpx.Validation(map[string]string{"kids": "each must be a 16-byte key id in base64url"})
		}
		copy(kids[i][:], raw)
	}
	keys, err := d.keys.ContentKeys(ctx, id, kids)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return ErrNoKey
	}
	out := licenseResponse{Type: "temporary", Keys: make([]jwk, len(keys))}
	for i, k := range keys {
		out.Keys[i] = jwk{Kty: "oct", Kid: base64.RawURLEncoding.EncodeToString(k.ID[:]), K: base64.RawURLEncoding.EncodeToString(k.Key[:])}
	}
	return c.JSON(http.StatusOK, out)
}
