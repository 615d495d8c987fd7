package profiles_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// manyProfiles is a config with n profiles, as tables.
func manyProfiles(n int) string {
	var b strings.Builder
	b.WriteString("default = \"p0\"\n")
	for i := range n {
		fmt.Fprintf(&b, "[profiles.p%d]\nmodel = \"sonnet\"\nmax_output_tokens = 4096\n", i)
	}
	return b.String()
}

// cpuTime is the CPU time the test process has used so far: unlike the wall
// clock, other work on a loaded machine hardly moves it.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Loading must grow with the file, not with its square: 4,000 profiles once
// took 8 s. The check compares the CPU time of two sizes 16 times apart,
// the best of several runs each, a collection before each: linear work
// costs about 16 times more (up to twice that on a busy machine: caches,
// page faults), quadratic 256. The garbage collector is off
// while it measures: how often it runs depends on the heap, not on the work.
func TestLoadConfigScalesLinearly(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const small, factor = 1000, 16
	env := map[string]string{"HOME": t.TempDir(), "AWS_REGION": "us-east-1"}
	dir := t.TempDir()
	paths := map[int]string{}
	for _, n := range []int{small, small * factor} {
		paths[n] = filepath.Join(dir, fmt.Sprintf("config-%d.toml", n))
		if err := os.WriteFile(paths[n], []byte(manyProfiles(n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	best := map[int]time.Duration{}
	for range 5 {
		for _, n := range []int{small, small * factor} {
			runtime.GC() // not the garbage of the last run
			start := cpuTime(t)
			c, err := profiles.LoadConfig(paths[n], env)
			d := cpuTime(t) - start
			if err != nil {
				t.Fatal(err)
			}
			if len(c.UserDefined) != n {
				t.Fatalf("%d profiles read, want %d", len(c.UserDefined), n)
			}
			if old, ok := best[n]; !ok || d < old {
				best[n] = d
			}
		}
	}
	ratio := float64(best[small*factor]) / float64(max(best[small], time.Microsecond))
	t.Logf("%d profiles: %v; %d: %v; ratio %.1f", small, best[small], small*factor, best[small*factor], ratio)
	if ratio > 4*factor {
		t.Errorf("loading %d profiles costs %.0f times %d (%v vs %v): the work grows faster than the file", small*factor, ratio, small, best[small*factor], best[small])
	}
}

// BenchmarkLoadConfig loads a config of two profiles (what every launch
// reads), one of 2,000 as tables, and one of 20,000 (written compactly to
// fit the size limit).
func BenchmarkLoadConfig(b *testing.B) {
	var inline strings.Builder
	inline.WriteString("[profiles]\n")
	for i := range 20000 {
		fmt.Fprintf(&inline, "p%d={model=\"haiku\",max_output_tokens=1024}\n", i)
	}
	for _, c := range []struct {
		name, text string
		n          int
	}{{"typical", userConfig, 2}, {"tables-2000", manyProfiles(2000), 2000}, {"inline-20000", inline.String(), 20000}} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "config.toml")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				b.Fatal(err)
			}
			env := map[string]string{"AWS_REGION": "us-east-1"}
			b.SetBytes(int64(len(c.text)))
			start := cpuTime(b)
			for b.Loop() {
				cfg, err := profiles.LoadConfig(path, env)
				if err != nil || len(cfg.UserDefined) != c.n {
					b.Fatalf("%v, %d profiles", err, len(cfg.UserDefined))
				}
			}
			// CPU time too: on a shared machine the wall time moves with the load.
			b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// allocated returns how many bytes fn allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A cloned repository's project file is not the user's: one far above the
// limit is refused without being read whole or parsed, before any +allow.
func TestOversizedProjectFileIsRefusedUnread(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(w.proj, profiles.ProjectFileName)
	// A syntax error first: were the file parsed, that is what would be reported.
	w.project("profile = \n" + strings.Repeat("# padding\n", 2<<20/10))
	var s *profiles.Setup
	n := allocated(func() { s = w.load() })
	t.Logf("loading with a 2 MiB project file allocated %d bytes", n)
	if n > 256<<10 {
		t.Errorf("loading with a 2 MiB project file allocated %d bytes: it was read whole", n)
	}
	if s.Project == nil {
		t.Fatal("no project found")
	}
	err := s.Project.Err()
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("Err() = %v; want the file named and the 1 MiB limit", err)
	}
	r, err := s.Resolve("")
	if err != nil || r.Profile.Name != "code" || len(r.Notices) != 1 || !strings.Contains(r.Notices[0], path) {
		t.Fatalf("Resolve: %v, notices %q; want the built-in default and one notice naming the file", err, r.Notices)
	}
	if err := profiles.Allow(s.Paths.TrustDir, s.Project); err == nil {
		t.Fatal("an oversized project file was allowed")
	}
	// +deny, which the notice suggests, needs no content: it silences it.
	if err := profiles.Deny(s.Paths.TrustDir, s.Project); err != nil {
		t.Fatal(err)
	}
	if r, err := w.load().Resolve(""); err != nil || len(r.Notices) != 0 {
		t.Fatalf("after +deny: %v, notices %q", err, r.Notices)
	}

	// A far bigger one (sparse: it costs no disk) costs no more memory.
	if err := os.Truncate(path, 1<<30); err != nil {
		t.Fatal(err)
	}
	if n := allocated(func() { s = w.load() }); n > 256<<10 {
		t.Errorf("loading with a 1 GiB project file allocated %d bytes", n)
	}
}

// The config is the user's own, but a runaway generator or a wrong path
// (a log file) must still get a clear error rather than minutes of parsing.
func TestOversizedConfigIsRefused(t *testing.T) {
	w := newWorld(t)
	w.config("default = \"code\"\n" + strings.Repeat("# padding\n", 2<<20/10))
	_, err := profiles.Load(w.env, w.cwd)
	if err == nil || !strings.Contains(err.Error(), w.configPath()) || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("Load = %v; want an error naming %s and the 1 MiB limit", err, w.configPath())
	}
	// The edits refuse it too, and leave it alone.
	if err := profiles.SetDefault(w.configPath(), "light", w.env); err == nil {
		t.Fatal("+use edited an oversized config")
	}
}

// An untrusted project file is not parsed at all: its errors are the
// concern of whoever trusts it, and are reported by +allow.
func TestUntrustedProjectFileIsNotParsed(t *testing.T) {
	w := newWorld(t)
	w.project("profile = \n")
	s := w.load()
	r, err := s.Resolve("")
	if err != nil || r.Profile.Name != "code" {
		t.Fatalf("Resolve: %v %v", r, err)
	}
	if err := s.Project.Err(); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("Err() = %v; want the syntax error with its line, for +allow", err)
	}
}
