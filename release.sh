#!/usr/bin/env bash
# Builds the release archives of claude-bedrock: both binaries (the launcher
# and claude-bedrock-doctor) for Linux and macOS, amd64 and arm64, with the
# version stamped in, each set in a .tar.gz with install.sh and the README,
# a SHA256SUMS file over the archives, and the Homebrew formula filled in
# from packaging/homebrew/claude-bedrock.rb.in. Nothing is published.
#
#   ./release.sh                      version from git describe, into dist/
#   ./release.sh v1.2.3               that version
#   DIST=/tmp/out ./release.sh        another output folder (earlier archives there are replaced)
#   URL=https://…/download/v1.2.3 ./release.sh v1.2.3   where the formula says the archives are
#
# The body is wrapped in { } so that a half-downloaded script cannot run.
{
set -euo pipefail
cd "$(dirname "$0")"

log() { printf 'release.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

case "${1:-}" in -h|--help) sed -n '2,12p' "$0"; exit 0 ;; esac
[ $# -le 1 ] || die "takes at most one argument, the version (try --help)"
command -v go >/dev/null || die "Go is needed to build the release: https://go.dev/dl/"
if command -v sha256sum >/dev/null; then sha256() { sha256sum "$@"; }
elif command -v shasum >/dev/null; then sha256() { shasum -a 256 "$@"; }
else die "neither sha256sum nor shasum is installed"; fi
# GNU tar, for archives that are the same bytes at every build (gtar on macOS).
tar=tar
tar --version 2>/dev/null | grep -q GNU || tar=gtar
"$tar" --version 2>/dev/null | grep -q GNU || die "GNU tar is needed (on macOS: brew install gnu-tar)"

version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
case "$version" in *[!A-Za-z0-9._+-]*|"") die "version \"$version\" may hold only letters, digits and . _ + -" ;; esac
dist=${DIST:-dist}
url=${URL:-https://example.invalid/claude-bedrock/releases/download/$version}
targets="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"

mkdir -p "$dist"
# Only what an earlier run wrote there: DIST may name a folder with other files.
rm -f "$dist"/claude-bedrock_*.tar.gz "$dist/SHA256SUMS" "$dist/claude-bedrock.rb"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for target in $targets; do
  goos=${target%/*} goarch=${target#*/}
  name=claude-bedrock_${version}_${goos}_${goarch}
  dir=$work/$name
  mkdir -p "$dir"
  log "building $name"
  for pair in "claude-bedrock:." "claude-bedrock-doctor:./cmd/claude-bedrock-doctor"; do
    bin=${pair%%:*} pkg=${pair#*:}
    # The same flags as install.sh, and no cgo: a static binary that runs on
    # any Linux of its architecture, and a cross-build without a C toolchain.
    CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch \
      go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$dir/$bin" "$pkg"
  done
  cp install.sh README.md "$dir/"
  # A stable archive: sorted names, no owner, one time stamp for every file.
  "$tar" -C "$work" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime='2000-01-01 00:00:00Z' -cf - "$name" | gzip -9n > "$dist/$name.tar.gz"
done

(cd "$dist" && sha256 -- *.tar.gz > SHA256SUMS)
log "wrote $dist/SHA256SUMS"

# The Homebrew formula: @VERSION@ (without a leading v), @TAG@ (as in the
# archives' names), @URL@ and @SHA256_<os>_<arch>@ filled in.
sums=()
while read -r sum file; do
  file=${file#\*}
  key=${file#claude-bedrock_"${version}"_}
  key=${key%.tar.gz}
  sums+=(-e "s|@SHA256_${key}@|$sum|")
done < "$dist/SHA256SUMS"
sed -e "s|@VERSION@|${version#v}|" -e "s|@TAG@|$version|" -e "s|@URL@|$url|" "${sums[@]}" \
  packaging/homebrew/claude-bedrock.rb.in > "$dist/claude-bedrock.rb"
if grep -q '@[A-Z0-9_]*@' "$dist/claude-bedrock.rb"; then
  die "the formula still has placeholders: $(grep -o '@[A-Z0-9_]*@' "$dist/claude-bedrock.rb" | sort -u | tr '\n' ' ')"
fi
log "wrote $dist/claude-bedrock.rb"
}
