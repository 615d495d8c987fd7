package governor

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"
)

// DefaultPoll is how often a session with waiting requests reads the other
// sessions' states again when they share a bucket with it: their requests
// ending tell it nothing otherwise.
const DefaultPoll = 250 * time.Millisecond

// Timer is a pending call of Options.AfterFunc.
type Timer interface {
	Stop() bool
}

// Ledger is where the sessions of a user on a machine share their states,
// so that together they keep under one budget per bucket. Lock and Unlock
// bracket each admission decision (read the others, decide, publish), so
// that two sessions cannot both take the last room. DirLedger is the one
// on disk; a nil Ledger means this session is alone.
type Ledger interface {
	// Lock takes the machine-wide admission lock; Unlock releases it.
	Lock() error
	Unlock() error
	// Others returns the states of the other live sessions.
	Others() ([]State, error)
	// Publish replaces this session's state.
	Publish(State) error
}

// Options configure a Governor. The zero value is usable: unknown quotas,
// the real clock, no ledger.
type Options struct {
	// Limits and MaxWait are as in Config.
	Limits  func(Bucket) Limits
	MaxWait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AfterFunc calls f after d in its own goroutine; nil means
	// time.AfterFunc. Tests pass a fake clock's.
	AfterFunc func(d time.Duration, f func()) Timer
	// Ledger shares the budget with the user's other sessions; nil: none.
	Ledger Ledger
	// Poll is how often waiting requests look at the ledger again;
	// 0 means DefaultPoll.
	Poll time.Duration
	// Logf, when set, is told of ledger errors (the governor then decides
	// on what it knows alone rather than stop the session).
	Logf func(format string, args ...any)
}

// Governor is the Pacer over a Model: safe for concurrent use, it blocks
// each Acquire until the model admits the request, waking waiters when
// requests end and, with a timer, when the window frees room.
type Governor struct {
	// round serialises the decisions taken with the ledger; mu guards the
	// rest and is never held while a decision waits for the ledger's lock
	// or reads it, so that a session stopped with that lock in hand stalls
	// no Status and no lease's end.
	round   sync.Mutex
	mu      sync.Mutex
	o       Options
	m       *Model
	waiters map[Ticket]*waiter
	timer   Timer
	wakeAt  time.Time
	others  []State // the ledger as last read
	closed  bool
}

var _ Pacer = (*Governor)(nil)

// ErrClosed is what Acquire answers once the Governor is closed.
var ErrClosed = errors.New("governor: closed (the gateway is stopping)")

// New returns a Governor.
func New(o Options) *Governor {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AfterFunc == nil {
		o.AfterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	return &Governor{
		o:       o,
		m:       NewModel(Config{Limits: o.Limits, MaxWait: o.MaxWait}),
		waiters: map[Ticket]*waiter{},
	}
}

// Acquire queues r and blocks until it is admitted (a Lease, to be ended
// with Done or Throttled), ctx is done (ctx's error; the request leaves
// the queue) or the Governor is closed (ErrClosed). A request that waits
// longer than MaxWait is admitted anyway.
func (g *Governor) Acquire(ctx context.Context, r Request) (Lease, error) {
	if err := ctx.Err(); err != nil {
		// The client is gone already: nothing to queue, but the place a
		// Throttled retry kept for r goes too, or a later request equal
		// to r would take it.
		g.mu.Lock()
		g.m.Cancel(g.m.Enqueue(g.o.Now(), r))
		g.mu.Unlock()
		return nil, err
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, ErrClosed
	}
	start := g.o.Now()
	t := g.m.Enqueue(start, r)
	w := &waiter{admitted: make(chan struct{}), hold: HoldOf(r, r.Input)}
	g.waiters[t] = w
	g.mu.Unlock()
	g.decide(false, nil)
	select {
	case <-w.admitted:
		if w.err != nil {
			return nil, w.err
		}
		return &lease{g: g, t: t, hold: w.hold, waited: max(g.o.Now().Sub(start), 0)}, nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	delete(g.waiters, t)
	g.m.Cancel(t)
	g.mu.Unlock()
	g.decide(false, nil)
	return nil, ctx.Err()
}

// decide takes one decision: it applies change, if any, admits what may
// go, wakes its waiters, publishes the state and sets the timer for the
// next moment room may free. With a ledger, when something waits or
// fresh is set, all of that happens under the ledger's lock with the
// other sessions' states read again: then two sessions cannot both take
// the last room, nor both cut a limit for the same burst of 429s.
func (g *Governor) decide(fresh bool, change func(now time.Time, others []State)) {
	g.round.Lock()
	defer g.round.Unlock()
	g.mu.Lock()
	read := g.o.Ledger != nil && !g.closed && (fresh || g.m.Waiting() > 0)
	g.mu.Unlock()
	var others []State
	locked := false
	if read {
		// Unlocked (another session stopped with the lock in hand), it
		// still reads the others: the decision is then only less sure.
		// A state it cannot read is left out; the rest still counts.
		locked = g.logErr(g.o.Ledger.Lock()) == nil
		var err error
		others, err = g.o.Ledger.Others()
		g.logErr(err)
	}
	g.mu.Lock()
	now := g.o.Now()
	if read {
		g.others = others
	}
	if change != nil {
		change(now, g.others)
	}
	var st *State
	// A request queued since read was decided is not admitted here,
	// without the lock: its own Acquire decides next.
	if !g.closed && (read || g.o.Ledger == nil) {
		for _, a := range g.m.Admit(now, g.others) {
			if w, ok := g.waiters[a.Ticket]; ok {
				w.hold = a.Hold
				close(w.admitted)
				delete(g.waiters, a.Ticket)
			}
		}
	}
	if !g.closed {
		if g.o.Ledger != nil {
			s := g.m.Export(now, os.Getpid())
			st = &s
		}
		g.schedule(now)
	}
	g.mu.Unlock()
	if st != nil {
		g.logErr(g.o.Ledger.Publish(*st))
	}
	if locked {
		g.logErr(g.o.Ledger.Unlock())
	}
}

func (g *Governor) logErr(err error) error {
	if err != nil && g.o.Logf != nil {
		g.o.Logf("governor: %v", err)
	}
	return err
}

// schedule keeps one timer, at the model's next wake (sooner, the poll,
// when a ledger is shared), or none when nothing waits. Called with g.mu
// held.
func (g *Governor) schedule(now time.Time) {
	at, ok := g.m.Wake(now, g.others)
	if ok && g.o.Ledger != nil && now.Add(g.o.Poll).Before(at) {
		at = now.Add(g.o.Poll)
	}
	if g.timer != nil && (!ok || !at.Equal(g.wakeAt)) {
		g.timer.Stop()
		g.timer = nil
	}
	if !ok || g.timer != nil {
		return
	}
	g.wakeAt = at
	var tm Timer
	tm = g.o.AfterFunc(at.Sub(now), func() {
		g.mu.Lock()
		mine := g.timer == tm
		if mine {
			g.timer = nil
		}
		g.mu.Unlock()
		if mine {
			g.decide(false, nil)
		}
	})
	g.timer = tm
}

// Close stops the timer and releases the requests still waiting: their
// Acquire, and any later one, answers ErrClosed. Leases already admitted
// still end as usual. Once Close has returned the Governor no longer
// touches the Ledger, which the caller owns and may then close.
func (g *Governor) Close() error {
	g.mu.Lock()
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.closed = true
	for t, w := range g.waiters {
		g.m.Cancel(t)
		w.err = ErrClosed
		close(w.admitted)
		delete(g.waiters, t)
	}
	g.mu.Unlock()
	// A decision under way may still publish: wait for it (a LockWait at
	// most), after the waiters are released.
	g.round.Lock()
	g.round.Unlock() //nolint:staticcheck // an empty critical section: only to wait
	return nil
}

// Status returns what this session and, through the ledger, the user's
// other sessions know of their buckets. It does not wait for the ledger's
// lock.
func (g *Governor) Status() Status {
	var others []State
	if g.o.Ledger != nil {
		var err error
		others, err = g.o.Ledger.Others()
		g.logErr(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.o.Now()
	return Summarize(now, append([]State{g.m.Export(now, os.Getpid())}, others...))
}

// LargestCap returns the largest output cap with which one request of
// input tokens fits the limit the governor knows for bucket b (all the
// user's sessions considered); ok is false when no limit is known.
func (g *Governor) LargestCap(b Bucket, input, burndown int) (capTokens int, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.m.LargestCap(g.o.Now(), b, input, burndown, g.others)
}

// waiter is an Acquire waiting for its admission.
type waiter struct {
	admitted chan struct{} // closed when admitted, or released with err
	hold     int           // set before admitted is closed
	err      error         // ErrClosed when Close released it
}

// lease is an admitted request of a Governor.
type lease struct {
	g      *Governor
	t      Ticket
	hold   int
	waited time.Duration
}

func (l *lease) Waited() time.Duration { return l.waited }

// Held is the tokens the request held on its bucket when admitted (the
// gateway records it in usage.jsonl).
func (l *lease) Held() int { return l.hold }

func (l *lease) Started(input int) {
	g := l.g
	g.mu.Lock()
	g.m.Started(l.t, input)
	g.mu.Unlock()
	g.decide(false, nil)
}

// Throttled decides with the other sessions' states read again: a cut
// one of them made for the same burst of 429s must be seen.
func (l *lease) Throttled() (retry bool) {
	l.g.decide(true, func(now time.Time, others []State) {
		retry = l.g.m.Throttled(now, l.t, others)
	})
	return retry
}

func (l *lease) Done(u Usage, status int) {
	g := l.g
	if status == 429 { // taken as Throttled: the same fresh look
		g.decide(true, func(now time.Time, others []State) { g.m.Done(now, l.t, u, status, others) })
		return
	}
	g.mu.Lock()
	g.m.Done(g.o.Now(), l.t, u, status, g.others)
	g.mu.Unlock()
	g.decide(false, nil)
}
