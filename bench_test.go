package main

// Whole-process benchmarks of the launcher (issues 2 and 3): what starting
// claude through claude-bedrock costs over starting it directly, and how
// fast claude's screen output gets through the launcher's PTY with the
// throttling detector on, side by side with util-linux script(1). They are
// benchmarks, not timed tests: nothing here fails on wall time, only on
// output that did not arrive. Run them with
//
//	go test -run x -bench . -benchtime 3x .
//
// CLAUDE_BEDROCK_BENCH_MB sets the size of the pass-through flood (200 MB).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// benchTimeout bounds one run of a benchmarked process, so that a hung
// launcher fails the benchmark instead of hanging it.
const benchTimeout = 5 * time.Minute

// Environment of the fake claude in "flood" mode.
const (
	floodDataEnv  = "FAKE_FLOOD_DATA"  // file whose content is written, repeated
	floodBytesEnv = "FAKE_FLOOD_BYTES" // how many bytes in all; 0 exits at once
	floodRSSEnv   = "FAKE_FLOOD_RSS"   // where to write its own peak RSS in KiB and CPU time in µs
)

// fakeFlood is the fake claude's "flood" mode: a TUI that switches its
// terminal to raw mode (as Claude Code does, so the PTY passes bytes
// unchanged) and writes FAKE_FLOOD_BYTES bytes of recorded screen output as
// fast as the terminal takes them, then exits 0.
func fakeFlood() int {
	total, err := strconv.ParseInt(os.Getenv(floodBytesEnv), 10, 64)
	if err != nil || total == 0 {
		return 0 // nothing to write: the launch benchmark's claude
	}
	block, err := os.ReadFile(os.Getenv(floodDataEnv))
	if err != nil || len(block) == 0 {
		fmt.Fprintf(os.Stderr, "fake flood: reading %s=%q: %v\n", floodDataEnv, os.Getenv(floodDataEnv), err)
		return 97
	}
	if term.IsTerminal(0) {
		if _, err := term.MakeRaw(0); err != nil {
			fmt.Fprintln(os.Stderr, "fake flood: raw mode:", err)
			return 96
		}
		// The terminal is not restored: the PTY goes away with this process.
	}
	for written := int64(0); written < total; {
		n, err := os.Stdout.Write(block[:min(int64(len(block)), total-written)])
		written += int64(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake flood:", err)
			return 95
		}
	}
	if path := os.Getenv(floodRSSEnv); path != "" {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
			// Best effort: a missing figure shows as 0 in the benchmark.
			cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			_ = os.WriteFile(path, fmt.Appendf(nil, "%d %d", ru.Maxrss, cpu.Microseconds()), 0o644)
		}
	}
	return 0
}

// floodBlock writes about 1 MiB of Claude Code's real screen output (the
// recordings of successful sessions at 80 columns, which hold no incident,
// so no offer is drawn), repeated, to a file in dir and returns its path.
func floodBlock(b *testing.B, dir string) string {
	b.Helper()
	var one []byte
	for _, name := range []string{"ok-w80.raw", "ok-w80-kitty.raw"} {
		x, err := os.ReadFile(filepath.Join("launcher", "detect", "testdata", name))
		if err != nil {
			b.Fatalf("reading the recording for the flood: %v", err)
		}
		one = append(one, x...)
	}
	block := bytes.Repeat(one, (1<<20)/len(one)+1)
	path := filepath.Join(dir, "flood.raw")
	if err := os.WriteFile(path, block, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchEnv is the environment of a benchmarked run: a throw-away HOME and
// config (built-in profiles), the fake claude first on PATH.
func benchEnv(b *testing.B, extra ...string) []string {
	b.Helper()
	home := b.TempDir()
	env := []string{
		"HOME=" + home, "PATH=" + fakeDir + ":/usr/bin:/bin", fakeEnv + "=flood",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".state"),
		"TERM=xterm-256color", "SHELL=/bin/sh",
	}
	return append(env, extra...)
}

// BenchmarkLaunch measures a whole run of `claude -p x` whose claude exits
// at once, on pipes (the non-PTY path) and in a PTY that the benchmark
// reads, three ways within each iteration, in an order of its own, so that
// a change in the load of a shared machine weighs on all three alike:
//
//   - direct: claude started directly;
//   - floor: through internal/benchfloor, a Go program that only forks,
//     execs and waits: what any Go launcher pays on the machine at hand;
//   - launcher: through claude-bedrock.
//
// It reports the median of each, in ms, and overhead-ms (launcher less
// direct: the figure) and own-ms (launcher less floor: the
// launcher's own work), and own-CPU-ms, the same in CPU time (user and
// system, the launcher's and the claude it reaped, as wait4 counts it),
// which the load of a shared machine moves far less. ns/op is the runs
// together.
//
// CLAUDE_BEDROCK_BENCH_OTHER lists other claude-bedrock binaries, separated
// by colons (each built from another tree, with a claude-bedrock-doctor
// beside it), to run as more ways in the same iterations, each named for
// its folder: DIR-own-ms is its time less the floor, and
// launcher-less-DIR-ms the median of the launcher's time less its time in
// each iteration, so that trees compare under the same load.
func BenchmarkLaunch(b *testing.B) {
	env := benchEnv(b, floodBytesEnv+"=0")
	claude := filepath.Join(fakeDir, "claude")
	floor := filepath.Join(b.TempDir(), "benchfloor")
	if out, err := exec.Command("go", "build", "-o", floor, "./internal/benchfloor").CombinedOutput(); err != nil {
		b.Fatalf("building internal/benchfloor: %v\n%s", err, out)
	}
	ways := []struct {
		name string
		argv []string
	}{
		{"direct", []string{claude, "-p", "x"}},
		{"floor", []string{floor, claude, "-p", "x"}},
		{"launcher", []string{launcherBin, "-p", "x"}},
	}
	for _, other := range filepath.SplitList(os.Getenv("CLAUDE_BEDROCK_BENCH_OTHER")) {
		ways = append(ways, struct {
			name string
			argv []string
		}{filepath.Base(filepath.Dir(other)), []string{other, "-p", "x"}})
	}
	for _, mode := range []string{"pipes", "pty"} {
		b.Run(mode, func(b *testing.B) {
			took := make([][]time.Duration, len(ways))
			cpu := make([][]time.Duration, len(ways))
			for b.Loop() {
				// In an order of its own each iteration: what one run
				// leaves to the next (in a PTY, measurably) weighs on
				// all ways alike.
				for _, i := range rand.Perm(len(ways)) {
					w := ways[i]
					start := time.Now()
					var r runResult
					if mode == "pty" {
						r = runInPTY(b, env, w.argv)
					} else {
						r = runOnPipes(b, env, w.argv)
					}
					took[i] = append(took[i], time.Since(start))
					cpu[i] = append(cpu[i], r.cpu)
					if r.code != 0 {
						b.Fatalf("%q exited %d", w.argv, r.code)
					}
				}
			}
			ms := make([]float64, len(ways))
			cpuMS := make([]float64, len(ways))
			for i, w := range ways {
				ms[i] = float64(median(took[i])) / 1e6
				cpuMS[i] = float64(median(cpu[i])) / 1e6
				b.ReportMetric(ms[i], w.name+"-ms")
			}
			b.ReportMetric(ms[2]-ms[0], "overhead-ms")
			b.ReportMetric(ms[2]-ms[1], "own-ms")
			b.ReportMetric(cpuMS[2]-cpuMS[1], "own-CPU-ms")
			for i := 3; i < len(ways); i++ {
				b.ReportMetric(ms[i]-ms[1], ways[i].name+"-own-ms")
				b.ReportMetric(cpuMS[i]-cpuMS[1], ways[i].name+"-own-CPU-ms")
				// The launcher less this way, run by run in the same
				// iterations: the load moves both alike.
				diff := make([]time.Duration, len(took[i]))
				for k := range diff {
					diff[k] = took[2][k] - took[i][k]
				}
				b.ReportMetric(float64(median(diff))/1e6, "launcher-less-"+ways[i].name+"-ms")
			}
		})
	}
}

// median returns the middle of d (the upper one of an even count).
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkPassThrough200MB measures claude's screen output going through
// a PTY proxy three ways, in turn within each iteration so that the load of
// a shared machine weighs on all three alike:
//
//   - script: `script -qfc` from util-linux, the reference for a plain PTY
//     proxy;
//   - launcher: claude-bedrock in an interactive chat session (detector on);
//   - nowatch: claude-bedrock running a subcommand, which it does not watch:
//     the same proxy without the detector.
//
// The benchmark is the user's terminal: it reads the outer PTY's master into
// io.Discard as fast as it can. Metrics, per way: MB/s (of the flood, the
// median of the runs), CPU-ms/MB (the proxy's own user and system CPU time
// per MB: wait4's figure, which counts the claude it reaped, less the fake
// claude's own; it varies far less than wall time with the load), and
// self-MiB (the proxy's own peak VmHWM, read from /proc while it runs).
// launcher/script and nowatch/script are the medians of each iteration's
// ratio of speeds: 1 is as fast as script, above is faster. peak-MiB is the
// largest ru_maxrss (Linux takes it as the maximum over the proxy and the
// descendants it waited for, so it includes the fake claude), claude-MiB
// the fake claude's own.
func BenchmarkPassThrough200MB(b *testing.B) {
	mb := 200
	if s := os.Getenv("CLAUDE_BEDROCK_BENCH_MB"); s != "" {
		var err error
		if mb, err = strconv.Atoi(s); err != nil || mb <= 0 {
			b.Fatalf("CLAUDE_BEDROCK_BENCH_MB=%q: want a positive whole number of MB", s)
		}
	}
	if _, err := exec.LookPath("script"); err != nil {
		b.Fatalf("script is needed for this benchmark (util-linux): %v", err)
	}
	total := int64(mb) * 1_000_000
	dir := b.TempDir()
	rss := filepath.Join(dir, "claude-rss")
	env := benchEnv(b, floodDataEnv+"="+floodBlock(b, dir),
		floodBytesEnv+"="+strconv.FormatInt(total, 10), floodRSSEnv+"="+rss)
	claude := filepath.Join(fakeDir, "claude")
	ways := []struct {
		name string
		argv []string
	}{
		{"script", []string{"script", "-qfc", claude, "/dev/null"}},
		{"launcher", []string{launcherBin}},
		{"nowatch", []string{launcherBin, "--version"}},
	}
	var peak, child int64
	self := make([]int64, len(ways))
	took := make([][]time.Duration, len(ways))
	cpu := make([][]time.Duration, len(ways))
	ratio := make([][]float64, len(ways)) // script's time over this way's, per iteration
	for b.Loop() {
		for i, w := range ways {
			_ = os.Remove(rss) // a figure from an earlier run must not count
			start := time.Now()
			r := runInPTY(b, env, w.argv)
			took[i] = append(took[i], time.Since(start))
			if r.code != 0 || r.n < total {
				b.Fatalf("%q: exit %d after %d of %d bytes", w.argv, r.code, r.n, total)
			}
			peak, self[i] = max(peak, r.maxrss), max(self[i], r.hwm)
			var kib, us int64
			if x, err := os.ReadFile(rss); err == nil {
				_, _ = fmt.Sscan(string(x), &kib, &us) // a bad figure reads as 0
			}
			child = max(child, kib)
			// wait4 counts the proxy and the claude it reaped.
			cpu[i] = append(cpu[i], r.cpu-time.Duration(us)*time.Microsecond)
			n := len(took[i]) - 1
			ratio[i] = append(ratio[i], float64(took[0][n])/float64(took[i][n]))
		}
	}
	for i, w := range ways {
		b.ReportMetric(float64(total)/1e6/median(took[i]).Seconds(), w.name+"-MB/s")
		b.ReportMetric(float64(median(cpu[i]).Microseconds())/1000/float64(mb), w.name+"-CPU-ms/MB")
		b.ReportMetric(float64(self[i])/1024, w.name+"-self-MiB")
		if i > 0 {
			r := slices.Clone(ratio[i])
			slices.Sort(r)
			b.ReportMetric(r[len(r)/2], w.name+"/script")
		}
	}
	b.ReportMetric(float64(peak)/1024, "peak-MiB")
	b.ReportMetric(float64(child)/1024, "claude-MiB")
}

// runResult is how one benchmarked process ended.
type runResult struct {
	code   int
	n      int64         // bytes read from its terminal or stdout
	maxrss int64         // KiB, from wait4
	hwm    int64         // KiB, its own VmHWM, 0 if never read
	cpu    time.Duration // user and system CPU time, from wait4
}

// runOnPipes runs argv with stdin from /dev/null and stdout and stderr on
// pipes that are read to the end.
func runOnPipes(b *testing.B, env, argv []string) runResult {
	b.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cw := &countWriter{}
	cmd.Stdout, cmd.Stderr = cw, cw
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	timer := time.AfterFunc(benchTimeout, func() { _ = cmd.Process.Kill() }) // the run fails below
	defer timer.Stop()
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		b.Fatalf("%q: %v", argv, err)
	}
	return runResult{code: cmd.ProcessState.ExitCode(), n: cw.n, maxrss: maxrss(cmd.ProcessState),
		cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

// runInPTY runs argv as the session leader on a new 30×80 PTY (stdin,
// stdout and stderr) and reads the master into io.Discard until the end of
// output, polling the process's own peak RSS meanwhile.
func runInPTY(b *testing.B, env, argv []string) runResult {
	b.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer ptmx.Close() // best effort: read to the end already
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 80}); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	_ = tty.Close() // the child has its own copies; ours would keep the end of output away
	if err != nil {
		b.Fatal(err)
	}
	timer := time.AfterFunc(benchTimeout, func() { _ = cmd.Process.Kill() }) // the run fails below
	defer timer.Stop()

	var hwm int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			// VmHWM only grows, so the last reading before the exit is
			// the peak up to then; a zombie has none, and the last good
			// reading stays.
			if kib := vmHWM(cmd.Process.Pid); kib > hwm {
				hwm = kib
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	n, err := io.Copy(io.Discard, ptmx)
	if err != nil && !errors.Is(err, syscall.EIO) {
		b.Errorf("reading the terminal of %q: %v", argv, err)
	}
	werr := cmd.Wait()
	close(stop)
	wg.Wait()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		b.Fatalf("%q: %v", argv, werr)
	}
	return runResult{code: cmd.ProcessState.ExitCode(), n: n, maxrss: maxrss(cmd.ProcessState), hwm: hwm,
		cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

// maxrss returns the ru_maxrss of an ended process in KiB (Linux units).
func maxrss(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}

// vmHWM returns the peak resident set size of process pid in KiB from
// /proc, or 0 when it cannot be read (the process is gone or a zombie).
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close() // read-only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64) // 0 if malformed
			return kib
		}
	}
	return 0
}

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
