package claudetest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
)

// TestMain lets the test binary stand in for npm and for claude, chosen by
// the name it was started under, so the install path is tested offline.
func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case "claude":
		// The version comes from a file the fake npm left next to the link:
		// claudetest runs --version with a minimal environment.
		v, err := os.ReadFile(filepath.Join(filepath.Dir(os.Args[0]), "version"))
		if err == nil && len(os.Args) == 2 && os.Args[1] == "--version" {
			fmt.Println(string(v) + " (Claude Code)")
			os.Exit(0)
		}
		os.Exit(2)
	case "npm":
		os.Exit(fakeNpm())
	}
	os.Exit(m.Run())
}

// fakeNpm does what `npm install @anthropic-ai/claude-code@V` does for the
// tests: it puts the native binary (a link to this test binary, named
// claude) where npm would, and counts its runs in FAKE_NPM_LOG.
func fakeNpm() int {
	f, err := os.OpenFile(os.Getenv("FAKE_NPM_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
	_ = f.Close() // a log for the test; a lost line fails it
	if os.Getenv("FAKE_NPM_FAIL") != "" {
		fmt.Fprintln(os.Stderr, "npm error network unreachable")
		return 1
	}
	dir := filepath.Join("node_modules", "@anthropic-ai", "claude-code-linux-x64")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(dir, "version"), []byte(os.Getenv("FAKE_CLAUDE_VERSION")), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Symlink(os.Getenv("FAKE_NPM_EXE"), filepath.Join(dir, "claude")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fakeTB records a Fatalf and ends the goroutine as testing.T does.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	panic(f) // unwound by callBinary
}

func callBinary(t *testing.T) (bin, failure string) {
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != any(f) {
				panic(r)
			}
		}()
		bin = claudetest.Binary(f)
	}()
	return bin, f.failed
}

// setupFakeNpm puts a fake npm first on PATH and an empty cache in place.
func setupFakeNpm(t *testing.T, version string) (cache, log string) {
	if runtimeArch() != "x64" {
		t.Fatalf("the fake npm writes the linux-x64 package; this test needs linux/amd64")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(bin, "npm")); err != nil {
		t.Fatal(err)
	}
	cache = t.TempDir()
	log = filepath.Join(t.TempDir(), "npm.log")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv(claudetest.EnvBinary, "")
	t.Setenv("FAKE_NPM_EXE", exe)
	t.Setenv("FAKE_NPM_LOG", log)
	t.Setenv("FAKE_CLAUDE_VERSION", version)
	t.Setenv("GORACE", "atexit_sleep_ms=0") // a race-enabled fake npm would sleep 1s at exit
	return cache, log
}

func TestBinaryInstallsOnceWithLock(t *testing.T) {
	cache, log := setupFakeNpm(t, claudetest.Version)
	var wg sync.WaitGroup
	bins := make([]string, 4)
	fails := make([]string, 4)
	for i := range bins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bins[i], fails[i] = callBinary(t)
		}()
	}
	wg.Wait()
	want := filepath.Join(cache, "claude-bedrock-test", "claude-code-"+claudetest.Version,
		"node_modules", "@anthropic-ai", "claude-code-linux-x64", "claude")
	for i := range bins {
		if fails[i] != "" || bins[i] != want {
			t.Errorf("caller %d: got %q, failure %q; want %q", i, bins[i], fails[i], want)
		}
	}
	runs, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(runs)), "\n"); len(lines) != 1 ||
		lines[0] != "install --ignore-scripts --no-audit --no-fund --loglevel=error @anthropic-ai/claude-code@"+claudetest.Version {
		t.Errorf("npm ran %d times: %q; want once with the pinned version", len(lines), lines)
	}
	// No temporary install dirs left next to the cache.
	entries, _ := os.ReadDir(filepath.Join(cache, "claude-bedrock-test")) // checked below
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".install-") {
			t.Errorf("temporary install dir %s left behind", e.Name())
		}
	}
}

func TestBinaryFailsClearly(t *testing.T) {
	t.Run("npm fails", func(t *testing.T) {
		setupFakeNpm(t, claudetest.Version)
		t.Setenv("FAKE_NPM_FAIL", "1")
		_, failure := callBinary(t)
		if !strings.Contains(failure, "cannot install Claude Code "+claudetest.Version) ||
			!strings.Contains(failure, "npm error network unreachable") || !strings.Contains(failure, claudetest.EnvBinary) {
			t.Errorf("failure message %q", failure)
		}
	})
	t.Run("wrong version", func(t *testing.T) {
		setupFakeNpm(t, "2.0.1")
		_, failure := callBinary(t)
		if !strings.Contains(failure, `printed "2.0.1 (Claude Code)"`) || !strings.Contains(failure, "want Claude Code "+claudetest.Version) {
			t.Errorf("failure message %q", failure)
		}
	})
	t.Run("env points nowhere", func(t *testing.T) {
		t.Setenv(claudetest.EnvBinary, filepath.Join(t.TempDir(), "no-claude"))
		_, failure := callBinary(t)
		if !strings.Contains(failure, "no-claude --version") {
			t.Errorf("failure message %q", failure)
		}
	})
}

func runtimeArch() string {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return runtime.GOOS + "-" + runtime.GOARCH
	}
	return "x64"
}
