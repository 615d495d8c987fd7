package governor

import (
	"context"
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
// with Done or Throttled) or ctx is done (ctx's error; the request leaves
// the queue). A request that waits longer than MaxWait is admitted anyway.
func (g *Governor) Acquire(ctx context.Context, r Request) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // the client is gone already: nothing to queue
	}
	g.mu.Lock()
	start := g.o.Now()
	t := g.m.Enqueue(start, r)
	w := &waiter{admitted: make(chan struct{}), hold: HoldOf(r, r.Input)}
	g.waiters[t] = w
	g.pump()
	g.mu.Unlock()
	select {
	case <-w.admitted:
		return &lease{g: g, t: t, hold: w.hold, waited: max(g.o.Now().Sub(start), 0)}, nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.waiters, t)
	g.m.Cancel(t)
	g.pump()
	return nil, ctx.Err()
}

// pump admits what may go, wakes its waiters, publishes the state and sets
// the timer for the next moment room may free. Called with g.mu held.
func (g *Governor) pump() {
	if g.closed {
		return
	}
	now := g.o.Now()
	if g.m.Waiting() > 0 {
		locked := false
		if g.o.Ledger != nil {
			// Unlocked (another session stopped with the lock in hand), it
			// still reads the others: the decision is then only less sure.
			// A state it cannot read is left out; the rest still counts.
			locked = g.logErr(g.o.Ledger.Lock()) == nil
			others, err := g.o.Ledger.Others()
			g.logErr(err)
			g.others = others
		}
		adm := g.m.Admit(now, g.others)
		for _, a := range adm {
			if w, ok := g.waiters[a.Ticket]; ok {
				w.hold = a.Hold
				close(w.admitted)
				delete(g.waiters, a.Ticket)
			}
		}
		g.publish(now)
		if locked {
			g.logErr(g.o.Ledger.Unlock())
		}
	} else {
		g.publish(now)
	}
	g.schedule(now)
}

func (g *Governor) publish(now time.Time) {
	if g.o.Ledger != nil {
		g.logErr(g.o.Ledger.Publish(g.m.Export(now, os.Getpid())))
	}
}

func (g *Governor) logErr(err error) error {
	if err != nil && g.o.Logf != nil {
		g.o.Logf("governor: %v", err)
	}
	return err
}

// schedule keeps one timer, at the model's next wake (sooner, the poll,
// when a ledger is shared), or none when nothing waits.
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
		defer g.mu.Unlock()
		if g.timer == tm {
			g.timer = nil
			g.pump()
		}
	})
	g.timer = tm
}

// Close stops the timer; requests still waiting are admitted at once (the
// gateway is going away: Bedrock decides). It does not close the Ledger,
// which the caller owns.
func (g *Governor) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.closed = true
	for t, w := range g.waiters {
		close(w.admitted)
		delete(g.waiters, t)
	}
	return nil
}

// Status returns what this session and, through the ledger, the user's
// other sessions know of their buckets.
func (g *Governor) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.o.Now()
	states := []State{g.m.Export(now, os.Getpid())}
	if g.o.Ledger != nil {
		others, err := g.o.Ledger.Others()
		g.logErr(err)
		g.others = others
		states = append(states, g.others...)
	}
	return Summarize(now, states)
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
	admitted chan struct{} // closed when admitted
	hold     int           // set before admitted is closed
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
	defer g.mu.Unlock()
	g.m.Started(l.t, input)
	g.pump()
}

func (l *lease) Throttled() (retry bool) {
	g := l.g
	g.mu.Lock()
	defer g.mu.Unlock()
	retry = g.m.Throttled(g.o.Now(), l.t, g.others)
	g.pump()
	return retry
}

func (l *lease) Done(u Usage, status int) {
	g := l.g
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m.Done(g.o.Now(), l.t, u, status, g.others)
	g.pump()
}
