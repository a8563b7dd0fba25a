#!/usr/bin/env bash
# Starts (up) or stops (down) a throwaway PostgreSQL cluster and MinIO server on loopback for the test
# suite, and writes the VOD_TEST_* variables that point the tests at them to DIR/env.
# Usage: scripts/services.sh up DIR | down DIR
set -euo pipefail
cmd=$1 dir=$2
TOOLS=${VOD_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vod-tools}
PGBIN=/usr/lib/postgresql/15/bin

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
  echo "no free port" >&2; exit 1
}

# wait_up URL LOG: wait up to a minute for URL to answer, else show LOG and fail.
wait_up() {
  for _ in $(seq 1 120); do
    curl -fs "$1" >/dev/null && return
    sleep 0.5
  done
  cat "$2" >&2; exit 1
}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case $cmd in
up)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  pgport=$(free_port)
  as_pg "$PGBIN/initdb" -A trust -U vod -D "$dir/pg" >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 \
    -o "-k $dir -p $pgport -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" start >/dev/null
  s3port=$(free_port)
  conport=$(free_port)
  mkdir -p "$dir/minio"
  MINIO_ROOT_USER=vodtest MINIO_ROOT_PASSWORD=vodtestsecret MINIO_BROWSER=off MINIO_UPDATE=off \
    nohup "$TOOLS/bin/minio" server --quiet --address "127.0.0.1:$s3port" --console-address "127.0.0.1:$conport" "$dir/minio" \
    >"$dir/minio.log" 2>&1 &
  echo $! >"$dir/minio.pid"
  wait_up "http://127.0.0.1:$s3port/minio/health/live" "$dir/minio.log"
  apyport=$(free_port)
  nohup apertium-apy -p "$apyport" /usr/share/apertium/modes >"$dir/apertium.log" 2>&1 &
  echo $! >"$dir/apertium.pid"
  wait_up "http://127.0.0.1:$apyport/listPairs" "$dir/apertium.log"
  cat >"$dir/env" <<ENV
export VOD_TEST_POSTGRES_URL=postgres://vod@127.0.0.1:$pgport/postgres?sslmode=disable
export VOD_TEST_S3_ENDPOINT=127.0.0.1:$s3port
export VOD_TEST_S3_ACCESS_KEY=vodtest
export VOD_TEST_S3_SECRET_KEY=vodtestsecret
export VOD_TEST_APERTIUM_URL=http://127.0.0.1:$apyport
ENV
  echo "services: postgres on 127.0.0.1:$pgport, minio on 127.0.0.1:$s3port, apertium on 127.0.0.1:$apyport" >&2
  ;;
down)
  [ -f "$dir/minio.pid" ] && kill "$(cat "$dir/minio.pid")" 2>/dev/null || true
  [ -f "$dir/apertium.pid" ] && kill "$(cat "$dir/apertium.pid")" 2>/dev/null || true
  [ -d "$dir/pg" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
esac
