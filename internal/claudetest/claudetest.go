// Package claudetest gives tests the pinned, real Claude Code CLI and what it
// needs to run offline against a loopback fake Bedrock: a throw-away HOME that
// skips the first-run screens, and a minimal environment.
//
// The binary is the native one from the npm package, installed on first use
// into a per-user cache so that tests never depend on whatever claude happens
// to be on PATH. Tests that need it fail, never skip, when it cannot be had:
// a skipped end-to-end test proves nothing.
package claudetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Claude Code version the tests are pinned to. The measured
// facts in the project (flags, wire format, on-screen messages) hold for it.
const Version = "2.1.328"

// EnvBinary names the environment variable that, when set, gives the path of
// the claude binary to use instead of the cached install.
const EnvBinary = "CLAUDE_BEDROCK_TEST_CLAUDE"

// installTimeout bounds npm install (the package is about 370 MB) and the
// wait for another test process that is installing it.
const installTimeout = 10 * time.Minute

var (
	checkedMu sync.Mutex
	checked   = map[string]bool{} // binaries whose --version was verified in this process
)

// Binary returns the path of the pinned Claude Code native binary: the
// CLAUDE_BEDROCK_TEST_CLAUDE environment variable if set, else the cached
// install under $XDG_CACHE_HOME (or $HOME/.cache)
// /claude-bedrock-test/claude-code-<Version>/, installing it there with npm
// first if it is missing. It fails the test if the binary cannot be had or
// does not report Version.
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvBinary)
	if bin == "" {
		dir, err := CacheDir()
		if err != nil {
			t.Fatalf("claudetest: %v", err)
		}
		bin, err = ensureInstalled(dir)
		if err != nil {
			t.Fatalf("claudetest: cannot install Claude Code %s into %s: %v\n"+
				"install it by hand (npm install --ignore-scripts @anthropic-ai/claude-code@%s) "+
				"and set %s to the native binary", Version, dir, err, Version, EnvBinary)
		}
	}
	if err := verify(bin); err != nil {
		t.Fatalf("claudetest: %v", err)
	}
	return bin
}

// CacheDir returns where the pinned Claude Code is installed:
// $XDG_CACHE_HOME/claude-bedrock-test/claude-code-<Version>, with
// $HOME/.cache standing in for an unset XDG_CACHE_HOME.
func CacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home := os.Getenv("HOME")
		if home == "" {
			return "", errors.New("neither XDG_CACHE_HOME nor HOME is set: set one, or set " + EnvBinary)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "claude-bedrock-test", "claude-code-"+Version), nil
}

// platformPackage is the npm package that carries the native binary for this
// machine, e.g. "claude-code-linux-x64".
func platformPackage() string {
	arch := runtime.GOARCH
	if arch == "amd64" {
		arch = "x64"
	}
	return "claude-code-" + runtime.GOOS + "-" + arch
}

// binaryIn returns where npm puts the native binary under an install dir.
func binaryIn(dir string) string {
	return filepath.Join(dir, "node_modules", "@anthropic-ai", platformPackage(), "claude")
}

// ensureInstalled returns the binary under dir, installing it first if it is
// missing. A file lock next to dir keeps parallel test processes from
// installing twice; the install goes into a temporary sibling that is renamed
// into place, so dir is either absent or complete.
func ensureInstalled(dir string) (string, error) {
	bin := binaryIn(dir)
	if fileExists(bin) {
		return bin, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	unlock, err := lock(filepath.Join(parent, ".lock-"+filepath.Base(dir)), installTimeout)
	if err != nil {
		return "", err
	}
	defer unlock()
	if fileExists(bin) { // another process installed it while we waited
		return bin, nil
	}
	tmp, err := os.MkdirTemp(parent, ".install-"+filepath.Base(dir)+"-")
	if err != nil {
		return "", fmt.Errorf("create temporary install dir: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename; otherwise a failed install is cleared
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--ignore-scripts", "--no-audit", "--no-fund",
		"--loglevel=error", "@anthropic-ai/claude-code@"+Version)
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("npm install @anthropic-ai/claude-code@%s: %w\n%s", Version, err, tail(out, 2000))
	}
	if !fileExists(binaryIn(tmp)) {
		return "", fmt.Errorf("npm installed no native binary at %s (no package %s for this platform?)",
			binaryIn(tmp), platformPackage())
	}
	if err := verify(binaryIn(tmp)); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("move install into place: %w", err)
	}
	return bin, nil
}

// lock takes an exclusive flock on path, polling until timeout so that a
// stuck installer elsewhere cannot hang the test forever.
func lock(path string, timeout time.Duration) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) // closing releases it anyway
				_ = f.Close()                                   // read-only use; nothing to flush
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close() // we hold nothing; nothing to flush
			return nil, fmt.Errorf("lock %s (another test installing Claude Code?): %w", path, err)
		}
		time.Sleep(200 * time.Millisecond) // polling another process's lock; there is no signal to wait on
	}
}

// verify runs bin --version once per process and checks it reports Version.
func verify(bin string) error {
	checkedMu.Lock()
	defer checkedMu.Unlock()
	if checked[bin] {
		return nil
	}
	home, err := os.MkdirTemp("", "claudetest-version-")
	if err != nil {
		return fmt.Errorf("create temporary HOME: %w", err)
	}
	defer os.RemoveAll(home) // throw-away HOME
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "DISABLE_AUTOUPDATER=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %w\n%s", bin, err, tail(out, 2000))
	}
	if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, Version+" ") && got != Version {
		return fmt.Errorf("%s --version printed %q, want Claude Code %s: point %s at the pinned version",
			bin, got, Version, EnvBinary)
	}
	checked[bin] = true
	return nil
}

// Home returns a throw-away HOME for the real CLI whose ~/.claude.json makes
// the interactive TUI skip its first-run screens and trust each of dirs (made
// absolute) without asking. Measured with 2.1.328, nothing else is needed:
// without hasCompletedOnboarding it opens on the theme picker ("Choose the
// text style…"), without a project's hasTrustDialogAccepted on "Quick safety
// check: Is this a project you created or one you trust?".
func Home(t testing.TB, dirs ...string) string {
	t.Helper()
	home := t.TempDir()
	WriteConfig(t, home, dirs...)
	return home
}

// WriteConfig writes home/.claude.json as Home does: onboarding done and
// each of dirs trusted.
func WriteConfig(t testing.TB, home string, dirs ...string) {
	t.Helper()
	projects := map[string]any{}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			t.Fatalf("claudetest: absolute path of %s: %v", d, err)
		}
		projects[abs] = map[string]any{"hasTrustDialogAccepted": true}
	}
	cfg := map[string]any{
		"hasCompletedOnboarding": true,
		"projects":               projects,
	}
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatalf("claudetest: encode .claude.json: %v", err)
	}
	if err := os.WriteFile(filepath.Join(home, ".claude.json"), js, 0o600); err != nil {
		t.Fatalf("claudetest: write .claude.json: %v", err)
	}
}

// WriteJSON writes v as JSON to path (relative to dir), creating folders: a
// helper for settings files such as .claude/settings.json.
func WriteJSON(t testing.TB, dir, path string, v any) string {
	t.Helper()
	full := filepath.Join(dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatalf("claudetest: create folder for %s: %v", full, err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("claudetest: encode %s: %v", full, err)
	}
	if err := os.WriteFile(full, js, 0o600); err != nil {
		t.Fatalf("claudetest: write %s: %v", full, err)
	}
	return full
}

// MaxRetries is the CLAUDE_CODE_MAX_RETRIES that Env sets: enough to see the
// CLI's retry lines, short enough that a throttled test ends in seconds.
const MaxRetries = 2

// Env returns the minimal environment that runs the real CLI offline against
// a fake Bedrock at fakeURL: Bedrock mode without SigV4 or AWS credentials,
// no update checks, telemetry or other traffic, a short retry loop, and a
// colour terminal. Append to it (later entries win in os/exec) to change a
// value.
func Env(home, fakeURL, region string) []string {
	return []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"TERM=xterm-256color",
		"LANG=C.UTF-8",
		"SHELL=/bin/bash",
		"CLAUDE_CODE_USE_BEDROCK=1",
		"CLAUDE_CODE_SKIP_BEDROCK_AUTH=1",
		"ANTHROPIC_BEDROCK_BASE_URL=" + fakeURL,
		"AWS_REGION=" + region,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1",
		fmt.Sprintf("CLAUDE_CODE_MAX_RETRIES=%d", MaxRetries),
	}
}

// BinDir returns a new temporary folder holding only `claude`, a link to the
// pinned binary: put it first on PATH when the program under test finds
// claude on PATH, as the launcher does.
func BinDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(Binary(t), filepath.Join(dir, "claude")); err != nil {
		t.Fatalf("claudetest: link claude into %s: %v", dir, err)
	}
	return dir
}

// Command returns an exec.Cmd for the pinned claude with args, env and dir.
func Command(t testing.TB, env []string, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = env
	cmd.Dir = dir
	return cmd
}

// Run runs the pinned claude non-interactively (stdin empty) with a deadline
// and returns its stdout, stderr and exit code. It fails the test if claude
// cannot be started or outlives timeout.
func Run(t testing.TB, env []string, dir string, timeout time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = env
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.WaitDelay = 5 * time.Second // a grandchild holding the pipes must not hang the test
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("claudetest: claude %q ran longer than %v\nstdout:\n%s\nstderr:\n%s", args, timeout, tail(o.Bytes(), 2000), tail(e.Bytes(), 2000))
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("claudetest: run claude %q: %v", args, err)
	}
	return o.String(), e.String(), code
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// tail returns the last n bytes of b, for error messages.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
