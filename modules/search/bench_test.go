package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/stretchr/testify/require"
)

var words = []string{"river", "mountain", "cooking", "pasta", "travel", "music", "guitar", "piano", "garden", "flower",
	"coffee", "morning", "evening", "city", "night", "train", "station", "ocean", "wave", "surf", "bread", "butter",
	"cheese", "market", "festival", "dance", "football", "goal", "match", "winter", "summer", "snow", "rain", "storm",
	"forest", "camping", "fire", "story", "history", "science", "space", "rocket", "planet", "star", "galaxy", "robot",
	"machine", "learning", "lesson", "teacher", "student", "school", "library", "book", "reading", "writing", "poem",
	"painting", "colour", "light", "shadow", "window", "door", "house", "kitchen", "recipe", "chocolate", "cake",
	"birthday", "wedding", "family", "friend", "holiday", "beach", "island", "bridge", "tower", "castle", "king", "queen",
	"dragon", "horse", "valley", "picnic", "bicycle", "engine", "garage", "repair", "review", "unboxing", "tutorial"}

// vocabulary extends the word list with 20,000 generated pseudo-words; text draws from it with a
// Zipf distribution, as natural language does, so that common words are common and most are rare.
var vocabulary = func() []string {
	syl := []string{"ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "den", "bar", "gel", "pon", "tri", "sul", "mar", "ve", "qui", "zo", "fa", "lin"}
	out := append([]string{}, words...)
	r := rand.New(rand.NewPCG(7, 7))
	seen := map[string]bool{}
	for len(out) < 20_000 {
		w := ""
		for range 2 + r.IntN(3) {
			w += syl[r.IntN(len(syl))]
		}
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}()

func sentence(r *rand.Rand, z *rand.Zipf, n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += " "
		}
		s += vocabulary[z.Uint64()]
	}
	return s
}

func dirSize(p string) int64 {
	var n int64
	_ = filepath.Walk(p, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// BenchmarkIndex builds an index of VOD_BENCH_VIDEOS videos (default 50,000) and VOD_BENCH_CUES
// cues (default 2,000,000) with the production mapping, then runs 1,000 mixed queries from 8 clients.
func BenchmarkIndex(b *testing.B) {
	nv, nc := 50_000, 2_000_000
	if v, err := strconv.Atoi(os.Getenv("VOD_BENCH_VIDEOS")); err == nil {
		nv = v
	}
	if v, err := strconv.Atoi(os.Getenv("VOD_BENCH_CUES")); err == nil {
		nc = v
	}
	path := filepath.Join(b.TempDir(), "idx")
	idx, err := bleve.New(path, newMapping())
	require.NoError(b, err)
	defer idx.Close()
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.07, 2, uint64(len(vocabulary)-1))
	langs := []string{"en", "fr", "es", "de"}
	t0 := time.Now()
	batch := idx.NewBatch()
	flush := func() {
		require.NoError(b, idx.Batch(batch))
		batch = idx.NewBatch()
	}
	for i := range nv {
		id := fmt.Sprintf("v%06d", i)
		vis := "public"
		if i%10 == 0 {
			vis = "private"
		}
		_ = batch.Index("v:"+id, map[string]any{"type": "video", "video_id": id, "owner_id": fmt.Sprintf("u%d", i%500), "visibility": vis, "hidden": hidden(vis),
			"status": "ready", "title": sentence(r, z, 4), "description": sentence(r, z, 20), "owner": fmt.Sprintf("user%d", i%500), "created_at": time.Now()})
		if batch.Size() >= 2000 {
			flush()
		}
	}
	flush()
	videoTime := time.Since(t0)
	t1 := time.Now()
	for i := range nc {
		vid := i % nv
		lang := langs[i%len(langs)]
		text := sentence(r, z, 8)
		vis := "public"
		if vid%10 == 0 {
			vis = "private"
		}
		_ = batch.Index(fmt.Sprintf("c:v%06d:%s:%d", vid, lang, i), map[string]any{"type": "cue", "video_id": fmt.Sprintf("v%06d", vid),
			"owner_id": fmt.Sprintf("u%d", vid%500), "visibility": vis, "hidden": hidden(vis), "status": "ready", "lang": lang,
			"start": float64(i%600) * 2.5, "end": float64(i%600)*2.5 + 2, "text": text, textField(lang): text, "text_std": text})
		if batch.Size() >= 5000 {
			flush()
		}
	}
	flush()
	cueTime := time.Since(t1)
	t2 := time.Now()
	require.NoError(b, compact(context.Background(), idx))
	mergeTime := time.Since(t2)
	size := dirSize(path)

	s := &Service{cfg: Config{Path: path}, catalog: nil}
	s.setIndex(idx)
	for _, l := range langs {
		s.noteLang(textField(l))
	}
	s.ready.Store(true)
	// Two query sets. "content": words drawn uniformly from the vocabulary outside its 100 most
	// frequent words, the way people search for distinctive words (the most frequent words of real
	// text are stop words, which the analysers drop). "frequent": words drawn with the text's own
	// Zipf distribution, the pessimistic case where queries hit the longest postings lists.
	content := func() string { return vocabulary[100+r.IntN(len(vocabulary)-100)] }
	frequent := func() string { return vocabulary[z.Uint64()] }
	makeQueries := func(word func() string) []string {
		kinds := []func() string{
			func() string { return word() },
			func() string { return word() + " " + word() },
			func() string { return `"` + word() + " " + word() + `"` },
			func() string { w := word(); return w[:min(4, len(w))] },
			func() string { w := []rune(word() + "s"); w[1] = 'x'; return string(w) },
		}
		qs := make([]string, 1000)
		for i := range qs {
			qs[i] = kinds[i%len(kinds)]()
		}
		return qs
	}
	run := func(queries []string) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		next := make(chan string)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for q := range next {
					t := time.Now()
					if _, err := s.searchOnly(context.Background(), Request{Q: q, Scope: "all", Limit: 20, CallerID: "u7"}); err != nil {
						b.Error(err)
					}
					d := time.Since(t)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}()
		}
		for _, q := range queries {
			next <- q
		}
		close(next)
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat
	}
	b.ResetTimer()
	latC := run(makeQueries(content))
	latF := run(makeQueries(frequent))
	b.StopTimer()
	p := func(lat []time.Duration, q float64) time.Duration {
		return lat[int(float64(len(lat)-1)*q)].Round(time.Microsecond)
	}
	b.ReportMetric(float64(nc)/cueTime.Seconds(), "cues/s")
	b.ReportMetric(float64(size)/(1<<20), "index-MiB")
	b.ReportMetric(float64(p(latC, 0.95).Microseconds())/1000, "p95-content-ms")
	b.ReportMetric(float64(p(latF, 0.95).Microseconds())/1000, "p95-frequent-ms")
	fmt.Printf("index: %d videos in %s, %d cues in %s (%.0f cues/s), merged in %s, %.0f MiB on disk\n", nv, videoTime.Round(time.Millisecond), nc,
		cueTime.Round(time.Millisecond), float64(nc)/cueTime.Seconds(), mergeTime.Round(time.Millisecond), float64(size)/(1<<20))
	fmt.Printf("content-word queries: p50 %s p95 %s p99 %s\n", p(latC, 0.5), p(latC, 0.95), p(latC, 0.99))
	fmt.Printf("frequent-word queries: p50 %s p95 %s p99 %s\n", p(latF, 0.5), p(latF, 0.95), p(latF, 0.99))
}

func hidden(vis string) any {
	if vis == "public" {
		return nil
	}
	return "1"
}
