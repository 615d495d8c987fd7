#!/usr/bin/env bash
# Runs every test of claude-bedrock, installing what the tests need first:
# the Go modules and the pinned Claude Code (npm, into a cache outside the
# repository). Usage: ./test.sh [extra go test flags]
{
set -euo pipefail
cd "$(dirname "$0")"

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v go >/dev/null || die "Go is not installed (https://go.dev/dl/)"
command -v npm >/dev/null || die "npm is not installed: the end-to-end tests need it to install the pinned Claude Code"

# The completion tests run the scripts in the real shells.
missing=""
for sh in zsh fish; do command -v "$sh" >/dev/null || missing="$missing $sh"; done
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null || die "the completion tests need$missing: install them"
  log "installing$missing for the completion tests"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq $missing >/dev/null
fi
command -v script >/dev/null || log "note: util-linux script is missing: only the benchmarks need it"

log "downloading Go modules"
go mod download

# The pinned Claude Code installs itself on first use (internal/claudetest);
# doing it here first makes a failed install one clear error, not many.
log "installing the pinned Claude Code for the tests (cached after the first run)"
go test -count=1 -run '^TestBinaryVersion$' ./internal/claudetest

log "go vet"
go vet ./...

# The release archives, cross-built for every platform as a compile check
# (nothing is published); internal/release then checks them, from a warm cache.
log "cross-building the release archives"
dist=$(mktemp -d)
DIST=$dist ./release.sh
rm -rf "$dist"

log "go test"
go test -race -count=1 "$@" ./...
}
