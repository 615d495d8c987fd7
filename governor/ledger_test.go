package governor_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/governor"
)

// TestMain lets the test binary be a second claude-bedrock session: with
// GOVERNOR_TEST_HOLD set to a ledger directory it joins that ledger, takes
// one request's hold, says "held" and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GOVERNOR_TEST_HOLD"); dir != "" {
		os.Exit(holdHelper(dir))
	}
	os.Exit(m.Run())
}

func holdHelper(dir string) int {
	l, err := governor.OpenLedger(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	g := governor.New(governor.Options{Limits: tpm(20000), Ledger: l})
	if _, err := g.Acquire(context.Background(), req(11000, 4096)); err != nil { // 15096
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("held")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until killed (or the test ends and closes stdin)
	return 0
}

// TestLedgerAcrossProcesses: a session in another process holds most of
// the budget, so this session's request waits; when the other is
// SIGKILLed mid-hold its hold disappears and the request goes.
func TestLedgerAcrossProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "claude-bedrock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GOVERNOR_TEST_HOLD="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close() //nolint:errcheck // lets a helper that outlived a failed test end
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // already dead when the test passes
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "held\n" {
		t.Fatalf("helper said %q, %v; want held", line, err)
	}

	l, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() //nolint:errcheck // the temp dir goes anyway
	g := governor.New(governor.Options{Limits: tpm(20000), Ledger: l})
	defer g.Close() //nolint:errcheck // never fails
	out := make(chan result, 1)
	start(t, context.Background(), g, "B", req(1000, 4096), out) // 5096: does not fit beside 15096
	none(t, out)
	st := g.Status()
	if st.Sessions != 2 || st.Buckets[0].Held != 15096 || st.Buckets[0].InFlight != 1 || st.Buckets[0].Waiting != 1 {
		t.Fatalf("status %+v, want 2 sessions, the helper's 15096 held in flight, B waiting", st)
	}
	if states, err := governor.ReadLedger(dir); err != nil || len(states) != 2 {
		t.Fatalf("ReadLedger: %d sessions, %v; want 2", len(states), err)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: its error says so
	b := <-out
	if b.err != nil {
		t.Fatal(b.err)
	}
	defer b.lease.Done(governor.Usage{}, 502)
	states, err := governor.ReadLedger(dir)
	if err != nil || len(states) != 1 || states[0].PID != os.Getpid() {
		t.Errorf("ReadLedger after the kill: %+v, %v; want this session only", states, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("session-%d-*", cmd.Process.Pid)))
	if len(files) != 0 {
		t.Errorf("the killed session's files are still there: %v", files)
	}
}

// TestLedgerFiles: a live session's state is read, a dead one's removed
// under the admission lock, an unreadable one named in the error, and a
// session's own files go when it closes.
func TestLedgerFiles(t *testing.T) {
	dir := t.TempDir()
	a, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := governor.State{PID: 42, Time: t0, Buckets: []governor.BucketState{{Bucket: sonnet, Held: 7, InFlight: 1, Day: "2026-12-02"}}}
	if err := b.Publish(want); err != nil {
		t.Fatal(err)
	}
	// A session that died: its lock file is there, nobody holds it.
	for _, f := range []string{"session-1-dead.lock", "session-1-dead.json", "session-1-dead.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A live session whose state is garbage.
	lf, err := os.Create(filepath.Join(dir, "session-2-bad.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close() //nolint:errcheck // releases the lock
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "session-2-bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	got, err := a.Others()
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v, want one naming %s", err, bad)
	}
	if len(got) != 1 || got[0].PID != 42 || got[0].Buckets[0].Held != 7 {
		t.Errorf("others %+v, want b's state only", got)
	}
	names := func() []string {
		ents, _ := os.ReadDir(dir)
		var n []string
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".lock") || e.Name() == "admission.lock" {
				n = append(n, e.Name())
			}
		}
		return n
	}
	if n := names(); slices.ContainsFunc(n, func(s string) bool { return strings.Contains(s, "dead") }) {
		t.Errorf("the dead session's files are left: %v", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Others(); len(got) != 0 {
		t.Errorf("others after b closed: %+v, want none readable", got)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "session-*"))
	if !slices.Equal(left, []string{bad, bad[:len(bad)-len(".json")] + ".lock"}) {
		t.Errorf("files left after both closed: %v, want only the foreign session's", left)
	}
}

func TestReadLedgerMissingDir(t *testing.T) {
	states, err := governor.ReadLedger(filepath.Join(t.TempDir(), "none"))
	if err != nil || states != nil {
		t.Errorf("ReadLedger of a missing directory: %v, %v; want nothing and no error", states, err)
	}
}

// BenchmarkAdmission measures one request through the governor (Acquire,
// then Done) with no ledger and with the directory ledger shared with n
// other live sessions, each with a request in flight and a minute of
// history in the same bucket.
func BenchmarkAdmission(b *testing.B) {
	for _, n := range []int{-1, 0, 1, 4, 16} {
		name := "no ledger"
		if n >= 0 {
			name = fmt.Sprintf("ledger with %d other sessions", n)
		}
		b.Run(name, func(b *testing.B) {
			var l governor.Ledger
			if n >= 0 {
				dir := b.TempDir()
				d, err := governor.OpenLedger(dir)
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close() //nolint:errcheck // the temp dir goes anyway
				l = d
				for i := range n {
					o, err := governor.OpenLedger(dir)
					if err != nil {
						b.Fatal(err)
					}
					defer o.Close() //nolint:errcheck // the temp dir goes anyway
					st := governor.State{PID: 1000 + i, Time: time.Now(), Buckets: []governor.BucketState{{
						Bucket: sonnet, Held: 30000, InFlight: 1, Day: "2026-12-02",
						Window: []governor.Tally{{At: time.Now().UnixMilli(), N: 1}, {At: time.Now().UnixMilli(), N: 1}},
					}}}
					if err := o.Publish(st); err != nil {
						b.Fatal(err)
					}
				}
			}
			g := governor.New(governor.Options{Limits: tpm(1 << 40), Ledger: l})
			defer g.Close() //nolint:errcheck // never fails
			r := req(20000, 8192)
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				lease, err := g.Acquire(ctx, r)
				if err != nil {
					b.Fatal(err)
				}
				lease.Done(governor.Usage{Input: 20000, Output: 100}, 200)
			}
			// The CPU the process spent, user and system: on a loaded
			// machine wall time measures the other tenants as much.
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
