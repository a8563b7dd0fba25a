package stream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"vod/app/db"
	"vod/app/notify"
	"vod/app/storage"
	"vod/app/testenv"
	"vod/app/vodtype"
)

// fakes for what the catalog consumes: they record what they were told.
type fakeIndex struct {
	mu      sync.Mutex
	changed []string
}

func (f *fakeIndex) VideoChangedTx(_ context.Context, _ *db.Tx, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changed = append(f.changed, id)
	return nil
}

type fakeNotifier struct {
	mu     sync.Mutex
	events []string
}

func (f *fakeNotifier) VideoEventTx(_ context.Context, _ *db.Tx, typ string, d notify.EventData) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, typ+":"+d.VideoID+":"+d.Error)
	return nil
}

type fakeJobs struct{ cancelled []string }

func (f *fakeJobs) CancelVideo(_ context.Context, id string) error {
	f.cancelled = append(f.cancelled, id)
	return nil
}

func (f *fakeJobs) QueuePosition(context.Context, string) (int, error) { return 0, nil }

type bundle struct {
	catalog  *Catalog
	db       *db.DB
	store    storage.Storage
	index    *fakeIndex
	notifier *fakeNotifier
	jobs     *fakeJobs
}

// setup builds a catalog on a fresh SQLite database and a local storage directory.
func setup(t *testing.T) *bundle {
	t.Helper()
	// The videos' owners are auth's users; a stand-in table holds the one owner these tests use.
	d := testenv.ModuleDB(t, "stream", Migrations(), "CREATE TABLE users (id TEXT PRIMARY KEY)", "INSERT INTO users VALUES ('u1')")
	store, err := storage.NewLocal(filepath.Join(t.TempDir(), "media"))
	require.NoError(t, err)
	b := &bundle{db: d, store: store, index: &fakeIndex{}, notifier: &fakeNotifier{}, jobs: &fakeJobs{}}
	b.catalog, err = NewCatalog(d, store, b.index, b.notifier, b.jobs, Config{SigningKey: []byte("0123456789abcdef0123")},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return b
}

func (b *bundle) newVideo(t *testing.T, status string) string {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	err := b.db.WithTx(context.Background(), func(tx *db.Tx) error {
		return b.catalog.CreateVideoTx(context.Background(), tx, vodtype.NewVideo{ID: id, OwnerID: "u1", OwnerUsername: "ann",
			Title: "t", Visibility: vodtype.Public, Status: status, SourceKey: vodtype.SourceKey(id)})
	})
	require.NoError(t, err)
	return id
}

func (b *bundle) read(t *testing.T, key string) string {
	t.Helper()
	rc, _, err := b.store.Get(context.Background(), key, 0, -1)
	require.NoError(t, err)
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(raw)
}

const baseMPD = `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><Period></Period></MPD>`

// publication stores a base MPD for a generation and returns what the transcoder would publish.
func (b *bundle) publication(t *testing.T, id string, gen int, subs ...vodtype.SubtitleFile) vodtype.Publication {
	t.Helper()
	prefix := vodtype.GenerationPrefix(id, gen)
	_, err := b.store.Put(context.Background(), prefix+"base.mpd", strings.NewReader(baseMPD), int64(len(baseMPD)), storage.PutOptions{})
	require.NoError(t, err)
	return vodtype.Publication{Generation: gen, Prefix: prefix, BaseMPDKey: prefix + "base.mpd", Duration: 2,
		Tracks: []vodtype.Track{{Kind: "video", Width: 640, Height: 360, Peak: 800000, Codecs: "avc1.64001e"}}, Subtitles: subs}
}

func TestFailMarksFailedAndNotifiesOnce(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.newVideo(t, vodtype.StatusQueued)
	require.NoError(t, b.catalog.Fail(ctx, id, "the file is not a video"))
	require.NoError(t, b.catalog.Fail(ctx, id, "again")) // a retry of the same failure
	v, err := b.catalog.PipelineVideo(ctx, id)
	require.NoError(t, err)
	require.Equal(t, vodtype.StatusFailed, v.Status)
	require.Equal(t, []string{"video.failed:" + id + ":the file is not a video"}, b.notifier.events)
}

func TestPublishWritesManifestsThenCommits(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.newVideo(t, vodtype.StatusProcessing)
	// A track the user uploaded before publishing wins over the embedded one of the same language.
	_, err := b.catalog.AddSubtitle(ctx, id, "en", "English (mine)", vodtype.SourceUploaded, []byte("WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n"))
	require.NoError(t, err)
	embedded := vodtype.SubtitleFile{Lang: "en", Label: "English", Source: vodtype.SourceEmbedded, Key: vodtype.GenerationPrefix(id, 1) + "en.vtt"}
	fr := vodtype.SubtitleFile{Lang: "fr", Label: "Français", Source: vodtype.SourceEmbedded, Key: vodtype.GenerationPrefix(id, 1) + "fr.vtt"}
	var inTx bool
	err = b.catalog.Publish(ctx, id, b.publication(t, id, 1, embedded, fr), func(tx *db.Tx) error {
		// The caller's part of the transaction runs after the manifests are in storage.
		mpd := b.read(t, vodtype.GenerationPrefix(id, 1)+"manifest.mpd")
		require.Contains(t, mpd, `lang="fr"`)
		inTx = true
		return nil
	})
	require.NoError(t, err)
	require.True(t, inTx)
	files, err := b.catalog.SubtitleFiles(ctx, id)
	require.NoError(t, err)
	require.Len(t, files, 2)
	require.Equal(t, vodtype.SourceUploaded, files[0].Source, "the uploaded en track is kept")
	require.Contains(t, b.read(t, vodtype.GenerationPrefix(id, 1)+"master.m3u8"), "LANGUAGE=\"en\"")
	require.Contains(t, b.notifier.events, "video.ready:"+id+":")
	require.Contains(t, b.index.changed, id)
}

func TestPublishRollsBackWithTheCallersError(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.newVideo(t, vodtype.StatusProcessing)
	boom := errors.New("job completion failed")
	err := b.catalog.Publish(ctx, id, b.publication(t, id, 1), func(*db.Tx) error { return boom })
	require.ErrorIs(t, err, boom)
	v, err := b.catalog.PipelineVideo(ctx, id)
	require.NoError(t, err)
	require.Equal(t, vodtype.StatusProcessing, v.Status, "nothing of the publication committed")
}

func TestPublishOfSupersededGenerationFails(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.newVideo(t, vodtype.StatusProcessing)
	err := b.catalog.Publish(ctx, id, b.publication(t, id, 2), func(*db.Tx) error { return nil })
	require.ErrorContains(t, err, "superseded")
}

func TestSubtitleAddedAfterPublishReachesManifests(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.newVideo(t, vodtype.StatusProcessing)
	require.NoError(t, b.catalog.Publish(ctx, id, b.publication(t, id, 1), func(*db.Tx) error { return nil }))
	_, err := b.catalog.AddSubtitle(ctx, id, "de", "Deutsch", vodtype.SourceUploaded, []byte("WEBVTT\n\n00:00.000 --> 00:01.000\nhallo\n"))
	require.NoError(t, err)
	require.Contains(t, b.read(t, vodtype.GenerationPrefix(id, 1)+"manifest.mpd"), `lang="de"`)
	require.Contains(t, b.read(t, vodtype.SubtitleKey(id, "de")), "hallo")
}

func TestReprocessOnlyWhenFinished(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.newVideo(t, vodtype.StatusProcessing)
	err := b.db.WithTx(ctx, func(tx *db.Tx) error {
		_, err := b.catalog.BeginReprocessTx(ctx, tx, id)
		return err
	})
	require.ErrorIs(t, err, ErrBusy)
	require.NoError(t, b.catalog.Fail(ctx, id, "bad"))
	var gen int
	err = b.db.WithTx(ctx, func(tx *db.Tx) (err error) {
		gen, err = b.catalog.BeginReprocessTx(ctx, tx, id)
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 2, gen)
}

func TestRemoveVideoCancelsJobsAndDeletesObjects(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	id := b.newVideo(t, vodtype.StatusProcessing)
	_, err := b.store.Put(ctx, vodtype.SourceKey(id), strings.NewReader("x"), 1, storage.PutOptions{})
	require.NoError(t, err)
	require.NoError(t, b.catalog.RemoveVideo(ctx, id))
	require.Equal(t, []string{id}, b.jobs.cancelled)
	_, err = b.store.Stat(ctx, vodtype.SourceKey(id))
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = b.catalog.PipelineVideo(ctx, id)
	require.ErrorIs(t, err, ErrNoVideo)
}

func TestUpdateValidatesFields(t *testing.T) {
	b := setup(t)
	id := b.newVideo(t, vodtype.StatusReady)
	bad := "secret-ish"
	_, err := b.catalog.Update(context.Background(), id, VideoInput{Visibility: &bad, Protection: &bad}, nil)
	var fe vodtype.FieldErrors
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe, "visibility")
	require.Contains(t, fe, "protection")
}

// TestProtectionChange: changing a video's protection processes a finished video again in the
// same transaction, and is refused while it is being processed.
func TestProtectionChange(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	ready := b.newVideo(t, vodtype.StatusReady)
	var again []vodtype.PipelineVideo
	reprocess := func(_ context.Context, _ *db.Tx, v vodtype.PipelineVideo) error {
		again = append(again, v)
		return nil
	}
	ck := vodtype.ProtectionClearKey
	v, err := b.catalog.Update(ctx, ready, VideoInput{Protection: &ck}, reprocess)
	require.NoError(t, err)
	require.Equal(t, vodtype.ProtectionClearKey, v.Protection)
	require.Len(t, again, 1)
	require.Equal(t, vodtype.ProtectionClearKey, again[0].Protection)

	title := "same protection, new title"
	_, err = b.catalog.Update(ctx, ready, VideoInput{Title: &title, Protection: &ck}, reprocess)
	require.NoError(t, err)
	require.Len(t, again, 1, "no change of protection, no re-encode")

	busy := b.newVideo(t, vodtype.StatusProcessing)
	_, err = b.catalog.Update(ctx, busy, VideoInput{Protection: &ck}, reprocess)
	require.ErrorIs(t, err, ErrBusy)
	pv, err := b.catalog.PipelineVideo(ctx, busy)
	require.NoError(t, err)
	require.Equal(t, vodtype.ProtectionNone, pv.Protection, "nothing changed")
}

// TestRemoveOwnerVideos: account deletion removes every video of the owner, rows and objects, and the
// schema refuses a video whose owner does not exist.
func TestRemoveOwnerVideos(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	a, c := b.newVideo(t, vodtype.StatusReady), b.newVideo(t, vodtype.StatusProcessing)
	for _, id := range []string{a, c} {
		_, err := b.store.Put(ctx, vodtype.VideoPrefix(id)+"g1/x.m4s", strings.NewReader("x"), 1, storage.PutOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, b.catalog.RemoveOwnerVideos(ctx, "u1"))
	for _, id := range []string{a, c} {
		ok, err := b.catalog.VideoExists(ctx, id)
		require.NoError(t, err)
		require.False(t, ok)
		_, err = b.store.Stat(ctx, vodtype.VideoPrefix(id)+"g1/x.m4s")
		require.Error(t, err, "objects are gone")
	}
	require.ElementsMatch(t, []string{a, c}, b.jobs.cancelled, "their jobs were cancelled")

	err := b.db.WithTx(ctx, func(tx *db.Tx) error {
		return b.catalog.CreateVideoTx(ctx, tx, vodtype.NewVideo{ID: uuid.Must(uuid.NewV7()).String(), OwnerID: "ghost",
			OwnerUsername: "ghost", Title: "t", Visibility: "public"})
	})
	require.ErrorContains(t, err, "FOREIGN KEY")
	b.newVideo(t, vodtype.StatusReady)
	require.ErrorContains(t, b.db.Gorm.Exec("DELETE FROM users WHERE id = 'u1'").Error, "FOREIGN KEY", "an owner with videos cannot be deleted")
}
