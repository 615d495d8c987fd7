#!/usr/bin/env bash
# Installs claude-bedrock from this source tree, or from an unpacked release
# archive (the binaries beside this script: no Go, no git needed).
#
#   ./install.sh                 build (or copy) and install to ~/.local/bin
#   PREFIX=/usr/local ./install.sh   install to /usr/local/bin
#   ./install.sh --alias         also add "alias claude=claude-bedrock" to your shell rc (once)
#   ./install.sh --completions   also install shell completion for your $SHELL (bash, zsh or fish)
#
# The body is wrapped in { } so that a half-downloaded script cannot run.
{
set -euo pipefail

log() { printf 'install.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

add_alias=false
add_completions=false
for arg in "$@"; do
  case "$arg" in
    --alias) add_alias=true ;;
    --completions) add_completions=true ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument $arg (try --help)" ;;
  esac
done

cd "$(dirname "$0")"
# In an unpacked release archive the binaries are beside this script and are
# copied (no Go, no git needed); in the source tree they are built.
prebuilt=false
if [ ! -f go.mod ] && [ -f claude-bedrock ] && [ -f claude-bedrock-doctor ]; then
  prebuilt=true
  ./claude-bedrock +version >/dev/null 2>&1 ||
    die "$PWD/claude-bedrock does not run on this machine: download the archive for $(uname -s) $(uname -m)"
  log "installing $(./claude-bedrock +version)"
else
  command -v go >/dev/null || die "Go is needed to build claude-bedrock: https://go.dev/dl/ (or install from a release archive)"
  version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
  log "building claude-bedrock $version"
fi

prefix=${PREFIX:-$HOME/.local}
bindir=$prefix/bin
mkdir -p "$bindir"
# The launcher, and the doctor beside it (a binary of its own: the AWS SDK it
# links would slow every launch).
for pair in "claude-bedrock:." "claude-bedrock-doctor:./cmd/claude-bedrock-doctor"; do
  name=${pair%%:*} pkg=${pair#*:}
  tmp=$(mktemp "$bindir/.$name.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  if $prebuilt; then
    cp "$name" "$tmp"
    chmod 755 "$tmp"
  else
    go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$tmp" "$pkg"
  fi
  mv -f "$tmp" "$bindir/$name"   # atomic: a running copy keeps working
  trap - EXIT
  log "installed $bindir/$name"
done

case ":$PATH:" in
  *":$bindir:"*) ;;
  *) log "note: $bindir is not on your PATH; add it, e.g. export PATH=\"$bindir:\$PATH\"" ;;
esac

if $add_alias; then
  case "${SHELL:-}" in
    */zsh) rc=$HOME/.zshrc; line='alias claude=claude-bedrock' ;;
    */fish) rc=$HOME/.config/fish/config.fish; line='alias claude claude-bedrock' ;;
    *) rc=$HOME/.bashrc; line='alias claude=claude-bedrock' ;;
  esac
  mkdir -p "$(dirname "$rc")"
  if [ -f "$rc" ] && grep -qF "# added by claude-bedrock install.sh" "$rc"; then
    log "the alias is already in $rc"
  else
    printf '\n%s  # added by claude-bedrock install.sh\n' "$line" >> "$rc"
    log "added '$line' to $rc: open a new shell to use it"
  fi
fi

if $add_completions; then
  data=${XDG_DATA_HOME:-$HOME/.local/share}
  case "${SHELL:-}" in
    */zsh)
      dir=$data/zsh/site-functions
      mkdir -p "$dir"
      "$bindir/claude-bedrock" +completion zsh > "$dir/_claude-bedrock"
      # fpath for a compinit that runs later in .zshrc; source for one that ran already.
      rc=$HOME/.zshrc
      line="fpath=(\"$dir\" \$fpath); (( \$+functions[compdef] )) && source \"$dir/_claude-bedrock\""
      if [ -f "$rc" ] && grep -qF "# claude-bedrock completion" "$rc"; then
        log "the completion line is already in $rc"
      else
        printf '\n%s  # claude-bedrock completion\n' "$line" >> "$rc"
        log "installed $dir/_claude-bedrock and added it to fpath in $rc: open a new shell"
      fi
      ;;
    */fish)
      dir=${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions
      mkdir -p "$dir"
      "$bindir/claude-bedrock" +completion fish > "$dir/claude-bedrock.fish"
      log "installed $dir/claude-bedrock.fish: open a new shell"
      ;;
    *)
      # bash-completion loads a command's file from its completions folder,
      # by the command's name; without it that folder is never read, so the
      # script goes into ~/.bashrc instead. (Tests point the list of places
      # bash-completion installs itself elsewhere.)
      found=""
      IFS=: read -r -a candidates <<< "${CLAUDE_BEDROCK_BASH_COMPLETION_FILES:-/usr/share/bash-completion/bash_completion:/etc/bash_completion:/usr/local/share/bash-completion/bash_completion:/opt/homebrew/etc/profile.d/bash_completion.sh:/usr/local/etc/profile.d/bash_completion.sh}"
      for f in "${candidates[@]}"; do
        if [ -f "$f" ]; then found=$f; break; fi
      done
      if [ -n "$found" ]; then
        dir=$data/bash-completion/completions
        mkdir -p "$dir"
        "$bindir/claude-bedrock" +completion bash > "$dir/claude-bedrock"
        ln -sf claude-bedrock "$dir/claude"   # bash-completion loads a command's file by its name
        log "installed $dir/claude-bedrock (and claude) for bash-completion: open a new shell"
      else
        rc=$HOME/.bashrc
        line='command -v claude-bedrock >/dev/null && eval "$(claude-bedrock +completion bash)"'
        if [ -f "$rc" ] && grep -qF "# claude-bedrock completion" "$rc"; then
          log "the completion line is already in $rc"
        else
          printf '\n%s  # claude-bedrock completion\n' "$line" >> "$rc"
          log "bash-completion is not installed: added '$line' to $rc instead: open a new shell"
        fi
      fi
      ;;
  esac
fi

command -v claude >/dev/null || log "note: Claude Code itself is not on PATH yet: npm install -g @anthropic-ai/claude-code"
log "try: claude-bedrock +profiles"
}
