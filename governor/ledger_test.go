package governor_test

import (
	"bufio"
	"bytes"
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
	"github.com/google/go-cmp/cmp"
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
	// B's decision publishes this session's state just after B is queued.
	waitFor(t, "ReadLedger to show both sessions", func() bool {
		states, err := governor.ReadLedger(dir)
		if err != nil {
			t.Fatalf("ReadLedger: %v", err)
		}
		return len(states) == 2
	})

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
	for _, f := range []string{"session-1-dead.lock", "session-1-dead.state"} {
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
	bad := filepath.Join(dir, "session-2-bad.state")
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
			n = append(n, e.Name())
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
	if !slices.Equal(left, []string{bad[:len(bad)-len(".state")] + ".lock", bad}) {
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

// TestLedgerTornReads: a state rewritten in place while another session
// reads it is always read whole: one of the states written, never a mix.
func TestLedgerTornReads(t *testing.T) {
	dir := t.TempDir()
	w, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() //nolint:errcheck // the temp dir goes anyway
	r, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() //nolint:errcheck // the temp dir goes anyway
	small := governor.State{PID: 1, Buckets: []governor.BucketState{{Bucket: sonnet, Held: 1}}}
	big := governor.State{PID: 2}
	for i := range 300 { // a state of several pages
		big.Buckets = append(big.Buckets, governor.BucketState{Bucket: haiku, Held: i, Window: []governor.Tally{{At: int64(i), N: i}}})
	}
	if err := w.Publish(small); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			s := small
			if i%2 == 1 {
				s = big
			}
			if err := w.Publish(s); err != nil {
				done <- err
				return
			}
		}
	}()
	for range 200 {
		got, err := r.Others()
		if err != nil {
			t.Error(err)
			break
		}
		if len(got) != 1 || !(got[0].PID == 1 && len(got[0].Buckets) == 1 || got[0].PID == 2 && len(got[0].Buckets) == 300) {
			t.Errorf("read a state that was never written: %+v", got)
			break
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLedgerTornState: a state whose body does not match its header (a
// write caught half-done) is not taken: the last whole state stands, and a
// session never read whole is named in an error.
func TestLedgerTornState(t *testing.T) {
	dir := t.TempDir()
	w, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() //nolint:errcheck // the temp dir goes anyway
	r, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() //nolint:errcheck // the temp dir goes anyway
	files, _ := filepath.Glob(filepath.Join(dir, "session-*.state"))
	var path string
	for _, f := range files {
		if b, _ := os.ReadFile(f); len(b) == 0 {
			path = f // both empty: the first; published next
		}
	}
	if err := w.Publish(governor.State{PID: 1, Buckets: []governor.BucketState{{Bucket: sonnet, Held: 1111}}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if b, _ := os.ReadFile(f); len(b) > 0 {
			path = f
		}
	}
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The same header, a body of the same length that says otherwise.
	torn := bytes.Replace(whole, []byte(`"held":1111`), []byte(`"held":9999`), 1)
	if bytes.Equal(torn, whole) {
		t.Fatalf("state %q has no hold to tear", whole)
	}

	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Others(); err == nil || !strings.Contains(err.Error(), path) || len(got) != 0 {
		t.Errorf("a torn state never read whole: %+v, %v; want nothing and an error naming %s", got, err, path)
	}
	if err := os.WriteFile(path, whole, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Others(); err != nil || len(got) != 1 || got[0].Buckets[0].Held != 1111 {
		t.Fatalf("the whole state: %+v, %v", got, err)
	}
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Others(); err != nil || len(got) != 1 || got[0].Buckets[0].Held != 1111 {
		t.Errorf("a torn state after a whole one: %+v, %v; want the whole one kept", got, err)
	}
}

func TestOpenLedgerRefusesSharedDirectories(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
		ok   bool
	}{
		{"private", 0o700, true},
		{"readable by others: nothing there is secret", 0o755, true},
		{"writable by the group", 0o770, false},
		{"writable by anyone", 0o777, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "claude-bedrock")
			if err := os.Mkdir(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			l, err := governor.OpenLedger(dir)
			if tt.ok != (err == nil) {
				t.Fatalf("OpenLedger: %v, want ok %v", err, tt.ok)
			}
			if err != nil {
				if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "chmod 700") {
					t.Errorf("error %q does not name %s and what to do", err, dir)
				}
				return
			}
			if err := l.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestReadStatus(t *testing.T) {
	dir := t.TempDir()
	l, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() //nolint:errcheck // the temp dir goes anyway
	c := newClock()
	g := newGovernor(c, 20000, l)
	lease := acquire(t, g, req(1000, 4096))
	defer lease.Done(governor.Usage{}, 502)
	got, err := governor.ReadStatus(dir, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := governor.Status{Time: c.Now(), Sessions: 1, Buckets: []governor.BucketStatus{{
		Bucket: sonnet, Limit: 20000, Quota: 20000, Source: governor.SourceProfile, Held: 5096, InFlight: 1,
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestLedgerLockHeldTooLong: a session stopped with the admission lock in
// hand does not stop the others: after LockWait they decide alone, and
// then try the lock once a decision, without waiting again, until they
// get it back.
func TestLedgerLockHeldTooLong(t *testing.T) {
	dir := t.TempDir()
	l, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() //nolint:errcheck // the temp dir goes anyway
	f, err := os.OpenFile(filepath.Join(dir, "admission.lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"has held it for over", "still holds it", "still holds it"} {
		err = l.Lock()
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "deciding without the others") {
			t.Errorf("Lock with the lock held elsewhere: %v, want it to give up: %q", err, want)
		}
	}
	f.Close() //nolint:errcheck // releases the lock
	if err := l.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	// Held elsewhere again: the first Lock waits its LockWait again.
	f, err = os.OpenFile(filepath.Join(dir, "admission.lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // releases the lock
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if err := l.Lock(); err == nil || !strings.Contains(err.Error(), "has held it for over") {
		t.Errorf("Lock held elsewhere after the lock came back: %v, want it to wait LockWait", err)
	}
	// Another session's decision taken since: the lock moves, whoever
	// holds it now is not the stopped one. Waiting is worth it again.
	f.Close() //nolint:errcheck // releases the lock
	other, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close() //nolint:errcheck // the temp dir goes anyway
	if err := other.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Lock(); err == nil || !strings.Contains(err.Error(), "has held it for over") {
		t.Errorf("Lock held by a session that took it since: %v, want it to wait LockWait", err)
	}
	if err := other.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// A session joins while another process reads the ledger (+status, the
// status line): a reader's probe of its brand-new lock file, taken before
// the session locks it, must not keep it out of the shared budget.
func TestJoinWhileRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ledger")
	first, err := governor.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = governor.ReadLedger(dir) // a reader's errors are its own
			}
		}
	}()
	// The moment is a few microseconds long: a join that only tried the
	// lock failed about once in 5,000.
	const joins = 2000
	failed := 0
	for range joins {
		l, err := governor.OpenLedger(dir)
		if err != nil {
			failed++
			continue
		}
		_ = l.Close()
	}
	close(stop)
	<-done
	if failed > 0 {
		t.Errorf("%d of %d sessions could not join while the ledger was read", failed, joins)
	}
}
