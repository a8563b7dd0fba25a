#!/usr/bin/env bash
# The whole test suite: installs what is missing, vets, then runs every test on the embedded default
# (SQLite + local storage), and the app's again on PostgreSQL + MinIO started on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
# Builds keyed by their content alone: without -trimpath the build cache keys every package of this
# module by its directory too, and a clean clone in a new directory compiled everything again (vet
# alone took ~20 s of a run).
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"
# phase names a step with the seconds since the start, so that a slow run shows where it went.
phase() { echo "== $* (at ${SECONDS} s)"; }
scripts/deps.sh test
phase "go vet"
go vet ./...
test -z "$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

svc=$(mktemp -d /tmp/vod-services.XXXXXX)
side_pid=
# killtree stops a background job and everything it started (go test, its test binaries, ffmpeg).
killtree() { local c; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do killtree "$c"; done; kill "$1" 2>/dev/null || true; }
trap '[ -z "$side_pid" ] || killtree "$side_pid"; scripts/services.sh down "$svc"' EXIT
scripts/services.sh up "$svc"

TIMEOUT=${VOD_TEST_TIMEOUT:-25m}
sqlite() { (. "$svc/env" && unset VOD_TEST_POSTGRES_URL VOD_TEST_S3_ENDPOINT && "$@"); }
postgres() { (. "$svc/env" && "$@"); }

# Beside the tests that play in real time (below), at the lowest CPU priority: every package but
# the app itself (the modules on their own SQLite bundles whatever the environment says,
# testenv.ModuleDB; app/storage on local disk, then on MinIO) and the fuzz. The real-time tests
# leave a third of the two cores idle and, at nice 0 against 19 (a weight of 1,024 against 15), keep
# what they need; the run is CPU-bound everywhere else (docs/BENCHMARKS.md).
side="$svc/side.log"
(
  set -e
  phase "every package but the app, on SQLite + local storage"
  sqlite nice -n 19 go test -count=1 -timeout "$TIMEOUT" $(go list ./... | grep -v '^vod/app$')
  phase "app/storage on MinIO"
  postgres nice -n 19 go test -count=1 -timeout "$TIMEOUT" ./app/storage
  phase "fuzz: bearer token parsing"
  nice -n 19 go test -run '^$' -fuzz FuzzBearer -fuzztime 10s ./modules/auth
  phase "done"
) > "$side" 2>&1 &
side_pid=$!

# The tests that play video in real time against an encode that must stay ahead of the viewer run
# first, with nothing else at normal priority: other tests would take their CPU.
REALTIME='^TestWatchWhileProcessing$'
phase "tests that play in real time: SQLite + local storage, then PostgreSQL + MinIO"
sqlite go test -count=1 -timeout "$TIMEOUT" -run "$REALTIME" ./app
postgres go test -count=1 -timeout "$TIMEOUT" -run "$REALTIME" ./app

# Then the app's other tests, one backend after the other. Side by side they took 15 minutes
# instead of ~19, but with both cores saturated a browser test's playback was starved once in three
# runs; with the browser tests apart and the rest side by side (session 11) the run took longer
# (17.6 min) and a killed worker's survivor ran a chunk twice (docs/BENCHMARKS.md). The second
# backend's pass is the wired product on its storage and its database; the backend-neutral tests
# (backendNeutral in app/harness_test.go) run in the first only. Four tests at a time: most of a
# test's time is spent waiting on job hand-offs, players and slow clients, and at go test's default
# of two the CPU stays a third idle.
PARALLEL=${VOD_TEST_PARALLEL:-4}
# The side job's last minutes (it ran on the real-time tests' idle third, ~20 s longer than they)
# go on at nice 19 beside the app's first pass instead of holding it back.
phase "the app on SQLite + local storage (with the Apertium server)"
sqlite go test -count=1 -timeout "$TIMEOUT" -parallel "$PARALLEL" -skip "$REALTIME" ./app
status=0
phase "the packages beside the tests above:"
wait "$side_pid" || status=$?
side_pid=
cat "$side"
[ "$status" = 0 ] || { echo "the packages beside the app failed"; exit "$status"; }
phase "the app on PostgreSQL + MinIO"
postgres go test -count=1 -timeout "$TIMEOUT" -parallel "$PARALLEL" -skip "$REALTIME" ./app

phase "all tests passed"
