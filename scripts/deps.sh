#!/usr/bin/env bash
# Installs what vod's tests and server need and are missing: ffmpeg, PostgreSQL 15, Chromium, Apertium
# from Debian's packages, and MinIO built from the Go module proxy into a cache that outlives clones.
# The test suite also drives clients we did not write (dash.js, hls.js, Shaka Player in Chromium,
# tus-js-client and Redocly CLI in Node; pinned in app/testdata/players): npm ci installs them into
# the same cache.
# Usage: scripts/deps.sh [run|test]   (run: ffmpeg only)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-test}
TOOLS=${VOD_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vod-tools}
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "deps: no apt-get here; install these yourself: $*" >&2
    return 1
  fi
  echo "deps: installing $* (apt-get)" >&2
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
if [ "$what" = test ]; then
  [ -x /usr/lib/postgresql/15/bin/pg_ctl ] || missing+=(postgresql-15)
  command -v curl >/dev/null || missing+=(curl)
  command -v chromium >/dev/null || missing+=(chromium chromium-driver fonts-dejavu-core)
  command -v npm >/dev/null || missing+=(nodejs npm)
  command -v apertium-apy >/dev/null && [ -f /usr/share/apertium/modes/eng-spa.mode ] || missing+=(apertium-apy apertium-eng-spa)
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}" || {
    echo "deps: could not install ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  }
fi

if [ "$what" = test ] && [ ! -x "$TOOLS/bin/minio" ]; then
  echo "deps: building MinIO $MINIO_VERSION into $TOOLS/bin (a few minutes, once)" >&2
  mkdir -p "$TOOLS/bin"
  GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION"
fi

if [ "$what" = test ]; then
  players="$TOOLS/players"
  want=$(sha256sum app/testdata/players/package-lock.json | cut -c1-16)
  if [ "$(cat "$players/.lock" 2>/dev/null)" != "$want" ]; then
    echo "deps: installing the test players (npm ci) into $players" >&2
    rm -rf "$players" && mkdir -p "$players"
    cp app/testdata/players/package.json app/testdata/players/package-lock.json "$players/"
    (cd "$players" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" >"$players/.lock"
  fi
fi
