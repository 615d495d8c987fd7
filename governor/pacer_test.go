package governor_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/governor"
)

// fakeClock is a clock and its timers, moved only by Advance: a timer
// due fires in Advance's goroutine, so when Advance returns the governor
// has acted on it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c  *fakeClock
	at time.Time
	f  func()
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) governor.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, o := range t.c.timers {
		if o == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock by d, firing each timer due on the way at its
// own time.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			c.now = end
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
	}
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

// newGovernor returns a governor on clock c; limit 0 means no quota known.
func newGovernor(c *fakeClock, limit int, l governor.Ledger) *governor.Governor {
	limits := tpm(limit)
	if limit == 0 {
		limits = nil
	}
	return governor.New(governor.Options{Limits: limits, Now: c.Now, AfterFunc: c.AfterFunc, Ledger: l})
}

// waitFor waits until cond holds: for another goroutine to reach a state
// the test cannot be told of otherwise (a request queued). The deadline
// only keeps a broken test from hanging; nothing is asserted on time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waiting(g *governor.Governor) int {
	n := 0
	for _, b := range g.Status().Buckets {
		n += b.Waiting
	}
	return n
}

func held(g *governor.Governor) int {
	n := 0
	for _, b := range g.Status().Buckets {
		n += b.Held
	}
	return n
}

type result struct {
	name  string
	lease governor.Lease
	err   error
}

// start acquires r in a goroutine and waits until it is queued (or
// admitted): requests started one after the other queue in that order.
func start(t *testing.T, ctx context.Context, g *governor.Governor, name string, r governor.Request, out chan<- result) {
	t.Helper()
	before := waiting(g)
	done := make(chan struct{})
	go func() {
		l, err := g.Acquire(ctx, r)
		close(done)
		out <- result{name, l, err}
	}()
	waitFor(t, name+" queued", func() bool {
		select {
		case <-done:
			return true
		default:
			return waiting(g) == before+1
		}
	})
}

func acquire(t *testing.T, g *governor.Governor, r governor.Request) governor.Lease {
	t.Helper()
	l, err := g.Acquire(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func none(t *testing.T, out <-chan result) {
	t.Helper()
	select {
	case r := <-out:
		t.Fatalf("%s was admitted too early", r.name)
	default:
	}
}

func TestGovernorFIFO(t *testing.T) {
	c := newClock()
	g := newGovernor(c, 20000, nil)
	a1 := acquire(t, g, req(5904, 4096)) // 10000
	a2 := acquire(t, g, req(5904, 4096))
	out := make(chan result, 3)
	for _, n := range []string{"B", "C", "D"} {
		start(t, context.Background(), g, n, req(5904, 4096), out)
	}
	none(t, out)
	a1.Done(governor.Usage{}, 502) // failed before any token: settles nothing
	b := <-out
	waitFor(t, "C and D still waiting", func() bool { return waiting(g) == 2 })
	none(t, out)
	a2.Done(governor.Usage{}, 502)
	cc := <-out
	b.lease.Done(governor.Usage{}, 502)
	d := <-out
	if got := b.name + cc.name + d.name; got != "BCD" {
		t.Errorf("admitted in order %s, want BCD", got)
	}
	cc.lease.Done(governor.Usage{}, 502)
	d.lease.Done(governor.Usage{}, 502)
	if n := held(g); n != 0 {
		t.Errorf("%d tokens still held", n)
	}
	if n := c.pending(); n != 0 {
		t.Errorf("%d timers left", n)
	}
}

func TestGovernorCancel(t *testing.T) {
	c := newClock()
	g := newGovernor(c, 20000, nil)
	a := acquire(t, g, req(15904, 4096)) // 20000
	out := make(chan result, 2)
	ctx, cancel := context.WithCancel(context.Background())
	start(t, ctx, g, "B", req(0, 4096), out)
	start(t, context.Background(), g, "C", req(0, 4096), out)
	cancel()
	b := <-out
	if b.name != "B" || !errors.Is(b.err, context.Canceled) || b.lease != nil {
		t.Fatalf("got %s %v %v, want B's Acquire to end with context.Canceled", b.name, b.lease, b.err)
	}
	if n := waiting(g); n != 1 {
		t.Errorf("%d waiting after B left, want 1 (C)", n)
	}
	a.Done(governor.Usage{}, 502)
	if cc := <-out; cc.name != "C" || cc.err != nil {
		t.Fatalf("got %s %v, want C admitted", cc.name, cc.err)
	} else {
		cc.lease.Done(governor.Usage{}, 502)
	}
	if n := held(g); n != 0 {
		t.Errorf("%d tokens still held: the cancelled request kept a hold", n)
	}
	if n := c.pending(); n != 0 {
		t.Errorf("%d timers left", n)
	}
}

func TestGovernorMaxWait(t *testing.T) {
	c := newClock()
	g := newGovernor(c, 20000, nil)
	a := acquire(t, g, req(15904, 4096))
	out := make(chan result, 1)
	start(t, context.Background(), g, "B", req(0, 4096), out)
	c.Advance(governor.DefaultMaxWait - time.Second)
	none(t, out)
	c.Advance(time.Second)
	b := <-out
	if h, ok := b.lease.(interface{ Held() int }); !ok || h.Held() != 4096 {
		t.Errorf("B's lease does not tell its hold of 4096")
	}
	if b.err != nil || b.lease.Waited() != governor.DefaultMaxWait {
		t.Errorf("B: err %v, waited %v; want admitted after %v", b.err, b.lease.Waited(), governor.DefaultMaxWait)
	}
	a.Done(governor.Usage{}, 502)
	b.lease.Done(governor.Usage{}, 502)
	if n := c.pending(); n != 0 {
		t.Errorf("%d timers left", n)
	}
}

func TestGovernorWindowWakes(t *testing.T) {
	c := newClock()
	g := newGovernor(c, 20000, nil)
	a := acquire(t, g, req(5904, 4096)) // 10000
	c.Advance(5 * time.Second)
	a.Done(governor.Usage{Input: 15000}, 200) // the last minute now holds 15000
	out := make(chan result, 1)
	start(t, context.Background(), g, "B", req(5904, 4096), out)
	c.Advance(governor.Window - time.Millisecond)
	none(t, out)
	c.Advance(time.Millisecond)
	b := <-out
	if b.err != nil || b.lease.Waited() != governor.Window {
		t.Errorf("B: err %v, waited %v; want admitted after %v, when the spend left the window", b.err, b.lease.Waited(), governor.Window)
	}
	b.lease.Done(governor.Usage{}, 502)
	if n := c.pending(); n != 0 {
		t.Errorf("%d timers left", n)
	}
}

func TestGovernorThrottledRetry(t *testing.T) {
	c := newClock()
	g := newGovernor(c, 100000, nil)
	r := req(15904, 4096) // 20000
	a := acquire(t, g, r)
	b := acquire(t, g, req(0, 4096)) // keeps a from being alone in flight
	var answers []bool
	for range governor.Retries + 1 {
		answers = append(answers, a.Throttled())
		// The first 429 cut the limit to a's hold: with b in flight a
		// fits no more, and goes when its wait, kept across attempts, is
		// past the max. Its 429s then were predicted: no further cut.
		c.Advance(governor.DefaultMaxWait)
		a = acquire(t, g, r)
	}
	a.Done(governor.Usage{}, 502)
	b.Done(governor.Usage{}, 502)
	if fmt.Sprint(answers) != "[true true false]" {
		t.Errorf("retry answers %v, want [true true false]", answers)
	}
	st := g.Status().Buckets[0]
	if st.Absorbed != 2 || st.Passed != 1 || st.Source != governor.SourceLearned {
		t.Errorf("status %+v, want 2 absorbed, 1 passed, a learned limit", st)
	}
}

// memLedger is a Ledger in memory, shared by governors in one test.
type memLedger struct {
	h  *hub
	id int
}

type hub struct {
	lock   sync.Mutex
	mu     sync.Mutex
	states map[int]governor.State
}

func (l memLedger) Lock() error   { l.h.lock.Lock(); return nil }
func (l memLedger) Unlock() error { l.h.lock.Unlock(); return nil }
func (l memLedger) Publish(s governor.State) error {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	l.h.states[l.id] = s
	return nil
}

func (l memLedger) Others() ([]governor.State, error) {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	var out []governor.State
	for id, s := range l.h.states {
		if id != l.id {
			out = append(out, s)
		}
	}
	return out, nil
}

// TestGovernorsShareABudget: two sessions with a ledger keep together
// under the limit; without one, each would take the whole.
func TestGovernorsShareABudget(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("ledger %v", shared), func(t *testing.T) {
			c := newClock()
			var la, lb governor.Ledger
			if shared {
				h := &hub{states: map[int]governor.State{}}
				la, lb = memLedger{h, 1}, memLedger{h, 2}
			}
			ga, gb := newGovernor(c, 20000, la), newGovernor(c, 20000, lb)
			a := acquire(t, ga, req(11000, 4096)) // 15096
			out := make(chan result, 1)
			start(t, context.Background(), gb, "B", req(1000, 4096), out) // 5096: 20192 together
			if !shared {
				b := <-out
				b.lease.Done(governor.Usage{}, 502)
				a.Done(governor.Usage{}, 502)
				return
			}
			none(t, out)
			if st := gb.Status(); st.Sessions != 2 || st.Buckets[0].Held != 15096 || st.Buckets[0].Waiting != 1 {
				t.Errorf("B's status %+v, want 2 sessions, A's 15096 held, 1 waiting", st)
			}
			a.Done(governor.Usage{}, 502)
			none(t, out) // B learns it at its next look at the ledger
			c.Advance(governor.DefaultPoll)
			b := <-out
			if b.err != nil || b.lease.Waited() != governor.DefaultPoll {
				t.Errorf("B: err %v, waited %v; want admitted at the next poll", b.err, b.lease.Waited())
			}
			b.lease.Done(governor.Usage{}, 502)
			if n := c.pending(); n != 0 {
				t.Errorf("%d timers left", n)
			}
		})
	}
}

// TestGovernorConcurrent hammers one governor from many goroutines with the
// real clock (run with -race): every request is admitted in the end and
// nothing stays held.
func TestGovernorConcurrent(t *testing.T) {
	base := runtime.NumGoroutine()
	g := governor.New(governor.Options{Limits: tpm(50000), MaxWait: 50 * time.Millisecond})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if i%7 == 0 {
				cancel()
			}
			l, err := g.Acquire(ctx, req(i*100, 4096))
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					t.Error(err)
				}
				return
			}
			l.Started(i * 90)
			if i%5 == 0 && l.Throttled() {
				if l, err = g.Acquire(ctx, req(i*100, 4096)); err != nil {
					if !errors.Is(err, context.Canceled) {
						t.Error(err)
					}
					return
				}
			}
			l.Done(governor.Usage{}, 502)
		}()
	}
	wg.Wait()
	if n := held(g); n != 0 {
		t.Errorf("%d tokens still held", n)
	}
	if n := waiting(g); n != 0 {
		t.Errorf("%d still waiting", n)
	}
	g.Close()
	waitFor(t, "the governor's goroutines gone", func() bool { return runtime.NumGoroutine() <= base })
}

// stuckLedger is a memLedger whose Lock, once stuck, waits until the test
// lets it go: another session stopped with the admission lock in hand.
type stuckLedger struct {
	memLedger
	mu      sync.Mutex
	gate    chan struct{} // while not nil, Lock waits for it to close
	locking chan struct{} // told when Lock starts waiting
}

func (l *stuckLedger) Lock() error {
	l.mu.Lock()
	gate := l.gate
	l.mu.Unlock()
	if gate != nil {
		l.locking <- struct{}{}
		<-gate
	}
	return l.memLedger.Lock()
}

// returns runs f in a goroutine and reports whether it returned before the
// stuck lock was let go; the deadline only keeps a broken test from
// hanging.
func returns(f func()) bool {
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(30 * time.Second):
		return false
	}
}

// TestGovernorLedgerStuck: while a decision waits for the ledger's lock,
// status reads go on: a session stopped with the lock in hand must not
// stall the rest of the process.
func TestGovernorLedgerStuck(t *testing.T) {
	c := newClock()
	l := &stuckLedger{memLedger: memLedger{&hub{states: map[int]governor.State{}}, 1}, locking: make(chan struct{}, 1)}
	g := newGovernor(c, 20000, l)
	a := acquire(t, g, req(11000, 4096)) // 15096
	l.mu.Lock()
	l.gate = make(chan struct{})
	l.mu.Unlock()
	out := make(chan result, 1)
	go func() {
		b, err := g.Acquire(context.Background(), req(1000, 4096)) // 5096: waits
		out <- result{"B", b, err}
	}()
	<-l.locking // B's decision waits for the lock
	if !returns(func() { g.Status() }) {
		t.Error("Status waited for the ledger's lock")
	}
	if !returns(func() { g.LargestCap(sonnet, 1000, 1) }) {
		t.Error("LargestCap waited for the ledger's lock")
	}
	l.mu.Lock()
	close(l.gate)
	l.gate = nil
	l.mu.Unlock()
	a.Done(governor.Usage{}, 502)
	b := <-out
	if b.err != nil {
		t.Fatal(b.err)
	}
	b.lease.Done(governor.Usage{}, 502)
}

// TestGovernorClose: Close releases the requests still waiting with
// ErrClosed, and refuses later ones; a lease admitted before still ends.
func TestGovernorClose(t *testing.T) {
	c := newClock()
	h := &hub{states: map[int]governor.State{}}
	g := newGovernor(c, 20000, memLedger{h, 1})
	a := acquire(t, g, req(11000, 4096)) // 15096
	out := make(chan result, 2)
	start(t, context.Background(), g, "B", req(1000, 4096), out) // 5096: waits
	start(t, context.Background(), g, "C", req(0, 4096), out)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if r := <-out; !errors.Is(r.err, governor.ErrClosed) || r.lease != nil {
			t.Errorf("%s: lease %v, err %v after Close; want ErrClosed", r.name, r.lease, r.err)
		}
	}
	if l, err := g.Acquire(context.Background(), req(0, 4096)); !errors.Is(err, governor.ErrClosed) || l != nil {
		t.Errorf("Acquire after Close: lease %v, err %v; want ErrClosed", l, err)
	}
	a.Done(governor.Usage{Input: 100}, 200)
	if st := g.Status().Buckets[0]; st.Waiting != 0 || st.Held != 0 || st.InFlight != 0 || st.UsedLastMinute != 100 {
		t.Errorf("status after Close and the end of the lease: %+v, want nothing waiting or held, 100 used", st)
	}
	if n := c.pending(); n != 0 {
		t.Errorf("%d timers left", n)
	}
}

// TestGovernorsThrottledTogether: two sessions' requests throttled in the
// same burst. The first 429 cuts the limit to 0.7x of the load, both
// sessions'; the other session's request, sent before that cut, cuts no
// further.
func TestGovernorsThrottledTogether(t *testing.T) {
	c := newClock()
	h := &hub{states: map[int]governor.State{}}
	ga, gb := newGovernor(c, 0, memLedger{h, 1}), newGovernor(c, 0, memLedger{h, 2})
	a1 := acquire(t, ga, req(25904, 4096)) // 30000
	b1 := acquire(t, gb, req(25904, 4096)) // 60000 with a1
	a2 := acquire(t, ga, req(25904, 4096)) // 90000
	c.Advance(time.Second)
	if !a2.Throttled() {
		t.Error("a2's 429 passed on, want it queued again")
	}
	if !b1.Throttled() {
		t.Error("b1's 429 passed on, want it queued again")
	}
	for _, g := range []*governor.Governor{ga, gb} {
		if st := g.Status().Buckets[0]; st.Limit != 63000 || st.Source != governor.SourceLearned {
			t.Errorf("limit %d (%s), want 63000 learned: one cut, of the 90000 in flight", st.Limit, st.Source)
		}
	}
	a1.Done(governor.Usage{}, 502)
}

// TestGovernorThrottledNotAlone: a request admitted alone in flight, then
// another session's beside it: its 429 is queued again, not passed on as
// if the cap itself did not fit.
func TestGovernorThrottledNotAlone(t *testing.T) {
	c := newClock()
	h := &hub{states: map[int]governor.State{}}
	ga, gb := newGovernor(c, 0, memLedger{h, 1}), newGovernor(c, 0, memLedger{h, 2})
	a := acquire(t, ga, req(25904, 4096))
	b := acquire(t, gb, req(25904, 4096))
	c.Advance(time.Second)
	if !a.Throttled() {
		t.Error("a's 429 passed on as if alone in flight; b is in flight beside it")
	}
	b.Done(governor.Usage{}, 502)
}

// A retry whose client is gone before it is queued again leaves no place
// behind: an equal request later waits its turn behind the queue.
func TestGovernorRetryPlaceGoesWithItsClient(t *testing.T) {
	c := newClock()
	g := newGovernor(c, 10000, nil)
	a := acquire(t, g, req(0, 4096))
	other := acquire(t, g, req(1, 4096))
	if !a.Throttled() { // cuts the limit to 0.7 x 8193: one at a time
		t.Fatal("no retry")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Acquire(ctx, req(0, 4096)); err == nil {
		t.Fatal("admitted with a cancelled context")
	}
	out := make(chan result, 2)
	start(t, context.Background(), g, "queued first", req(2, 4096), out)
	start(t, context.Background(), g, "the same as the throttled one", req(0, 4096), out)
	other.Done(governor.Usage{}, 200)
	if r := <-out; r.name != "queued first" {
		t.Errorf("%s went first", r.name)
	}
}
