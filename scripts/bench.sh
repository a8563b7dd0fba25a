#!/usr/bin/env bash
# The benchmarks behind docs/BENCHMARKS.md. Most run on the embedded default (SQLite + local
# storage); the load test and the tus upload run on both, the scale-out on PostgreSQL + MinIO (real processes).
# BENCH=regexp picks benchmarks (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
svc=$(mktemp -d /tmp/vod-services.XXXXXX)
trap 'scripts/services.sh down "$svc"' EXIT
scripts/services.sh up "$svc"
BENCH=${BENCH:-.}
echo "== benchmarks on SQLite + local storage"
(. "$svc/env" && unset VOD_TEST_POSTGRES_URL VOD_TEST_S3_ENDPOINT &&
	go test -run '^$' -bench "$BENCH" -skip 'BenchmarkScale' -benchtime 1x -timeout 60m ./...)
echo "== load test and scale-out on PostgreSQL + MinIO (real processes)"
(. "$svc/env" && VOD_BENCH_LONG_MINUTES=${VOD_BENCH_LONG_MINUTES:-10} \
	go test -run '^$' -bench "BenchmarkLoad|BenchmarkScale|BenchmarkTusUpload" -benchtime 1x -timeout 120m ./app/)
