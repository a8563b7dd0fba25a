package ratelimit

import (
	"context"
	"embed"
	"math"
	"time"

	"gorm.io/gorm"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the package's versioned SQL files.
func Migrations() embed.FS { return migrations }

// Store keeps buckets; Allow takes one token and reports tokens left before and after.
type Store interface {
	Take(ctx context.Context, key string, burst int, rate float64) (before, after float64, err error)
}

// Postgres shares buckets between processes in one row per bucket, refilled and taken from in a
// single statement under the row lock.
type Postgres struct{ DB *gorm.DB }

const takeSQL = `
WITH cur AS (
    SELECT LEAST(?::float8, COALESCE(
        (SELECT tokens + EXTRACT(EPOCH FROM (clock_timestamp() - updated_at)) * ?::float8
           FROM ratelimit_buckets WHERE key = ? FOR UPDATE), ?::float8)) AS t
)
INSERT INTO ratelimit_buckets (key, tokens, updated_at)
SELECT ?, CASE WHEN t >= 1 THEN t - 1 ELSE t END, clock_timestamp() FROM cur
ON CONFLICT (key) DO UPDATE SET tokens = EXCLUDED.tokens, updated_at = EXCLUDED.updated_at
RETURNING (SELECT t FROM cur) AS before, tokens AS after`

func (p Postgres) Take(ctx context.Context, key string, burst int, rate float64) (float64, float64, error) {
	var row struct{ Before, After float64 }
	b := float64(burst)
	err := p.DB.WithContext(ctx).Raw(takeSQL, b, rate, key, b, key).Scan(&row).Error
	return row.Before, row.After, err
}

// UseStore makes the limiter keep its buckets in a shared store instead of memory.
func (l *Limiter) UseStore(s Store) { l.store = s }

func (l *Limiter) allowShared(ctx context.Context, rule Rule, id string) (Decision, error) {
	rate := float64(rule.Burst) / rule.Per.Seconds()
	before, after, err := l.store.Take(ctx, id, rule.Burst, rate)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Limit: rule.Burst, Allowed: before >= 1, Remaining: int(after)}
	d.Reset = time.Duration((float64(rule.Burst) - after) / rate * float64(time.Second))
	if !d.Allowed {
		d.RetryAfter = time.Duration((1 - math.Max(after, 0)) / rate * float64(time.Second))
	}
	return d, nil
}
