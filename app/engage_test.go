package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
)

// pngOf draws a w x h PNG with a red left half, so that a test can tell the image survived scaling.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{0, 0, 255, 255}
			if x < w/2 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// hugePNGHeader is a valid PNG signature and IHDR announcing a 100000 x 100000 canvas: a few bytes
// that would take 40 GB to decode.
func hugePNGHeader() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// TestViews: a viewer counts once a day (a user by account, anyone else by address and browser),
// nothing counts before a video can be watched, and the list sorts by views with a working cursor.
func TestViews(t *testing.T) {
	t.Parallel()
	a := setup(t)
	ctx := context.Background()
	owner, other := a.token("viewsowner"), a.token("viewsother")
	src := clip(t, "mp4")
	vs := a.uploadReadyAll(owner, fileUpload{src, map[string]string{"title": "watched a lot"}},
		fileUpload{src, map[string]string{"title": "watched a little"}}, fileUpload{src, map[string]string{"title": "hidden", "visibility": "private"}})
	v1, v2, v3 := vs[0].Id, vs[1].Id, vs[2].Id

	view := func(id, token, ua string) (int, bool) {
		t.Helper()
		res, err := a.api(token).PostVideosIdViewsWithResponse(ctx, id, func(_ context.Context, r *http.Request) error {
			r.Header.Set("User-Agent", ua)
			return nil
		})
		require.NoError(t, err)
		require.NotNil(t, res.JSON200, "%d %s", res.StatusCode(), res.Body)
		return res.JSON200.Views, res.JSON200.Counted
	}
	steps := []struct {
		id, token, ua string
		views         int
		counted       bool
	}{
		{v1, "", "browser-a", 1, true},
		{v1, "", "browser-a", 1, false}, // same viewer, same day
		{v1, "", "browser-b", 2, true},  // another browser on the same address is another viewer
		{v1, other, "browser-a", 3, true},
		{v1, other, "browser-c", 3, false}, // a user counts once whatever the browser
		{v1, owner, "browser-a", 4, true},
		{v2, other, "browser-a", 1, true},
	}
	for i, s := range steps {
		n, counted := view(s.id, s.token, s.ua)
		require.Equal(t, s.views, n, "step %d", i)
		require.Equal(t, s.counted, counted, "step %d", i)
	}
	got := a.video(v1, "")
	require.NotNil(t, got.Views)
	require.Equal(t, 4, *got.Views)

	// A private video cannot be viewed, so it cannot be counted, by anyone but its owner.
	res, err := a.api("").PostVideosIdViewsWithResponse(ctx, v3)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, res.StatusCode())
	r := a.do("POST", "/api/v1/videos/not-a-uuid/views", nil, "")
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "not_found", r.errCode(t))

	// Most viewed first, one per page, following the cursor; the owner's private video has none.
	user := "viewsowner"
	sort := apiclient.GetVideosParamsSort("views")
	var order []string
	var cursor *string
	for range 5 {
		lr, err := a.api(owner).GetVideosWithResponse(ctx, &apiclient.GetVideosParams{Owner: &user, Sort: &sort, Limit: ptrTo(1), Cursor: cursor})
		require.NoError(t, err)
		require.NotNil(t, lr.JSON200, "%d %s", lr.StatusCode(), lr.Body)
		for _, it := range lr.JSON200.Items {
			order = append(order, it.Id)
		}
		if cursor = lr.JSON200.NextCursor; cursor == nil {
			break
		}
	}
	require.Equal(t, []string{v1, v2, v3}, order)

	// A channel page asks for what everyone sees, also when its owner looks.
	pub := apiclient.GetVideosParamsVisibility("public")
	lr, err := a.api(owner).GetVideosWithResponse(ctx, &apiclient.GetVideosParams{Owner: &user, Visibility: &pub})
	require.NoError(t, err)
	require.Len(t, lr.JSON200.Items, 2)
	r = a.do("GET", "/api/v1/videos?owner=viewsowner&visibility=private", nil, owner)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)

	r = a.do("GET", "/api/v1/videos?sort=loudest", nil, "")
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
	require.Equal(t, "validation_failed", r.errCode(t))
	r = a.do("GET", "/api/v1/videos?sort=views&cursor=garbage", nil, "")
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
}

// TestCustomPoster: an owner replaces the generated thumbnail with their own image, which is decoded,
// scaled to fit 1920x1080 and served as a new JPEG; bad images are refused plainly; the custom image
// survives reprocessing and can be removed again.
func TestCustomPoster(t *testing.T) {
	t.Parallel()
	a := setup(t)
	ctx := context.Background()
	owner, other := a.token("posterowner"), a.token("posterother")
	id := a.uploadReady(owner, clip(t, "mp4"), map[string]string{"title": "poster"}).Id
	generated := *a.video(id, owner).Thumbnails.Poster
	require.NotContains(t, generated, "/poster/")

	put := func(token, ctype string, body []byte) response {
		t.Helper()
		return a.do("PUT", "/api/v1/videos/"+id+"/poster", body, token, "Content-Type", ctype)
	}
	small := pngOf(t, 64, 48)
	cases := []struct {
		name, token, ctype string
		body               []byte
		status             int
		code               string
	}{
		{"not the owner", other, "image/png", small, http.StatusForbidden, "forbidden"},
		{"anonymous", "", "image/png", small, http.StatusUnauthorized, "unauthenticated"},
		{"wrong type", owner, "image/gif", []byte("GIF89a"), http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"not an image", owner, "image/png", []byte("definitely not a png"), http.StatusUnprocessableEntity, "invalid_image"},
		{"tiny", owner, "image/png", pngOf(t, 8, 8), http.StatusUnprocessableEntity, "invalid_image"},
		{"huge canvas", owner, "image/png", hugePNGHeader(), http.StatusUnprocessableEntity, "invalid_image"},
		{"too large", owner, "image/jpeg", bytes.Repeat([]byte{0xff}, 11<<20), http.StatusRequestEntityTooLarge, "too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := put(c.token, c.ctype, c.body)
			require.Equal(t, c.status, r.Status, "%s", r.Body)
			require.Equal(t, c.code, r.errCode(t))
		})
	}
	require.Equal(t, generated, *a.video(id, owner).Thumbnails.Poster, "a refused image changes nothing")

	fetchJPEG := func(u string) image.Image {
		t.Helper()
		if strings.HasPrefix(u, "/") {
			u = a.URL + u
		}
		res, err := http.Get(u)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "image/jpeg", res.Header.Get("Content-Type"))
		img, err := jpeg.Decode(res.Body)
		require.NoError(t, err)
		return img
	}

	// A small PNG keeps its size; a wide one is scaled to fit 1920 wide, keeping its shape.
	r := put(owner, "image/png", small)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	first := *a.video(id, owner).Thumbnails.Poster
	require.Contains(t, first, "/poster/")
	img := fetchJPEG(first)
	require.Equal(t, image.Rect(0, 0, 64, 48), img.Bounds())
	red, _, blue, _ := img.At(5, 24).RGBA()
	require.Greater(t, red, blue, "the left half stays red")

	r = put(owner, "image/png", pngOf(t, 3840, 1000))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	second := *a.video(id, owner).Thumbnails.Poster
	require.NotEqual(t, first, second)
	require.Equal(t, image.Rect(0, 0, 1920, 500), fetchJPEG(second).Bounds())
	if strings.HasPrefix(first, "/") {
		res, err := http.Get(a.URL + first)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusNotFound, res.StatusCode, "the replaced image is deleted")
	}
	// The public list shows the custom poster too.
	lr, err := a.api("").GetVideosWithResponse(ctx, &apiclient.GetVideosParams{Owner: ptrTo("posterowner")})
	require.NoError(t, err)
	require.Len(t, lr.JSON200.Items, 1)
	require.Equal(t, second, *lr.JSON200.Items[0].Thumbnails.Poster)

	// Reprocessing makes new generated thumbnails but keeps the owner's choice.
	r = a.do("POST", "/api/v1/videos/"+id+"/reprocess", nil, owner)
	require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
	time.Sleep(100 * time.Millisecond)
	v := a.waitVideo(id, owner, 3*time.Minute)
	require.Equal(t, apiclient.Ready, v.Status)
	require.Equal(t, second, *v.Thumbnails.Poster)
	fetchJPEG(second)

	r = a.do("DELETE", "/api/v1/videos/"+id+"/poster", nil, other)
	require.Equal(t, http.StatusForbidden, r.Status)
	r = a.do("DELETE", "/api/v1/videos/"+id+"/poster", nil, owner)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	back := *a.video(id, owner).Thumbnails.Poster
	require.NotContains(t, back, "/poster/")
	fetchJPEG(back)
}
