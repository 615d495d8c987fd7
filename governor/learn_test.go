package governor_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/governor"
)

// The quota world of the end-to-end tests, simulated on models alone: six
// sessions each send one `claude -p` turn of about 21,850 input tokens at
// cap 8192 and burndown 5 (a hold of 62,810 while it streams for 4 s, then
// 22,350 used) to a Bedrock whose quota of 200,000 tokens a minute none of
// them knows.
const (
	simQuota  = 200000
	simInput  = 21850
	simOutput = 100
	simCap    = 8192
	simBD     = 5
	simStream = 4 * time.Second
	// simLatency is the way from a gateway to Bedrock, and back.
	simLatency = 5 * time.Millisecond
)

// simQuotaFake is Bedrock's quota as the fake meters it: a request holds
// input + burndown x max_tokens from its arrival until its answer ends, then
// counts what it used for a minute.
type simQuotaFake struct {
	limit int
	holds map[int]int
	used  []spend
}

type spend struct {
	at time.Time
	n  int
}

func (q *simQuotaFake) load(now time.Time) int {
	n := 0
	for _, h := range q.holds {
		n += h
	}
	for _, u := range q.used {
		if now.Sub(u.at) < governor.Window {
			n += u.n
		}
	}
	return n
}

// simEvent is something that happens at a time: the simulation plays them
// in order of time, then of scheduling.
type simEvent struct {
	at  time.Time
	seq int
	f   func(now time.Time)
}

// simWorld is the sessions, the fake's quota and the clock: one goroutine,
// every step atomic, as each session's decision is under the ledger's lock.
type simWorld struct {
	t        *testing.T
	sessions []*governor.Model
	fake     simQuotaFake
	events   []simEvent
	seq      int
	jitter   int // the gateways' retry pauses, in turn
	// passed counts the 429s that reached claude; answered the turns
	// answered, ended when the last one ended.
	passed, answered int
	ended            time.Time
	lowest           int         // the lowest limit learned
	wakes            []time.Time // each session's next look
	// late delays session s's requests on their way to Bedrock.
	late func(s int) time.Duration
}

func (w *simWorld) at(at time.Time, f func(now time.Time)) {
	w.seq++
	w.events = append(w.events, simEvent{at, w.seq, f})
}

// others are the states of every session but s, as read from the ledger.
func (w *simWorld) others(now time.Time, s int) []governor.State {
	var out []governor.State
	for i, m := range w.sessions {
		if i != s {
			out = append(out, m.Export(now, i+1))
		}
	}
	return out
}

// admit runs each session's admissions, as their pumps do after any change.
func (w *simWorld) admit(now time.Time) {
	for s, m := range w.sessions {
		for _, a := range m.Admit(now, w.others(now, s)) {
			w.send(now, s, a)
		}
	}
}

// send is an admitted request on its way to the fake and its answer back.
func (w *simWorld) send(now time.Time, s int, a governor.Admitted) {
	w.at(now.Add(simLatency+w.late(s)), func(now time.Time) {
		hold := simInput + simBD*simCap
		if w.fake.load(now)+hold > w.fake.limit {
			w.at(now.Add(simLatency), func(now time.Time) { w.throttled(now, s, a.Ticket) })
			return
		}
		w.fake.holds[int(a.Ticket)<<8|s] = hold
		w.at(now.Add(simStream), func(now time.Time) {
			delete(w.fake.holds, int(a.Ticket)<<8|s)
			u := governor.Usage{Input: simInput, Output: simOutput}
			w.fake.used = append(w.fake.used, spend{now, governor.Settled(u, simBD)})
			w.sessions[s].Done(now.Add(simLatency), a.Ticket, u, 200, w.others(now, s))
			w.answered++
			w.ended = now.Add(simLatency)
		})
	})
}

// throttled is the gateway's answer to a 429: the model learns, and the
// request is queued again after a jittered pause or passed on to claude.
func (w *simWorld) throttled(now time.Time, s int, t governor.Ticket) {
	m := w.sessions[s]
	if !m.Throttled(now, t, w.others(now, s)) {
		w.passed++
		return
	}
	for _, b := range governor.Summarize(now, append(w.others(now, s), m.Export(now, s+1))).Buckets {
		if b.Source == governor.SourceLearned && (w.lowest == 0 || b.Limit < w.lowest) {
			w.lowest = b.Limit
		}
	}
	// The gateway's pause: 125 to 375 ms, spread as rand would.
	pause := 125*time.Millisecond + time.Duration(w.jitter*97%250)*time.Millisecond
	w.jitter++
	w.at(now.Add(pause), func(now time.Time) { m.Enqueue(now, turn()) })
}

func turn() governor.Request {
	return governor.Request{Bucket: sonnet, Session: "s", Input: simInput, MaxTokens: simCap, Burndown: simBD}
}

// run plays the world until nothing is left to happen: after each event,
// every session admits what it may; each session with waiting requests
// looks again at its next wake or the ledger poll, whichever is sooner.
func (w *simWorld) run(start time.Time) {
	now := start
	for range 100000 {
		w.admit(now)
		for s, m := range w.sessions {
			wake, ok := m.Wake(now, w.others(now, s))
			if poll := now.Add(governor.DefaultPoll); ok && poll.Before(wake) {
				wake = poll
			}
			if ok && (!w.wakes[s].After(now) || wake.Before(w.wakes[s])) {
				w.wakes[s] = wake
				w.at(wake, func(time.Time) {})
			}
		}
		if len(w.events) == 0 {
			return
		}
		slices.SortStableFunc(w.events, func(a, b simEvent) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return a.seq - b.seq
		})
		e := w.events[0]
		w.events = w.events[1:]
		now = e.at
		e.f(now)
	}
	w.t.Fatal("the simulation never ended")
}

// TestLearnWithNoLimitKnown: six sessions' turns sent together over a quota
// none of them knows. Bedrock refuses three; the sessions learn a limit
// from those 429s and pace the rest, so that no 429 reaches claude and the
// turns end within 1.5x of the 12 s the quota itself needs (three turns
// at once, then two, then one). Each session cutting the limit for the
// same burst of 429s (to 0.7x of what another had just cut it to) left
// room for one turn only beside the minute's use: the rest waited for the
// window, over a minute.
func TestLearnWithNoLimitKnown(t *testing.T) {
	for _, tt := range []struct {
		stagger time.Duration
		late    func(s int) time.Duration
	}{
		{0, func(int) time.Duration { return 0 }},
		{time.Millisecond, func(int) time.Duration { return 0 }},
		{3 * time.Millisecond, func(int) time.Duration { return 0 }},
		// The last admitted reach Bedrock first: the first 429 is of a
		// request admitted with little before it, yet what was in flight
		// when it came back was more.
		{time.Millisecond, func(s int) time.Duration { return time.Duration(6-s) * 3 * time.Millisecond }},
	} {
		stagger := tt.stagger
		t.Run(fmt.Sprintf("arrivals %v apart, %v late", stagger, tt.late(0)), func(t *testing.T) {
			w := &simWorld{t: t, fake: simQuotaFake{limit: simQuota, holds: map[int]int{}}, wakes: make([]time.Time, 6), late: tt.late}
			for s := range 6 {
				w.sessions = append(w.sessions, governor.NewModel(governor.Config{}))
				w.at(t0.Add(time.Duration(s)*stagger), func(now time.Time) { w.sessions[s].Enqueue(now, turn()) })
			}
			w.run(t0)
			const ideal = 3 * simStream
			took := w.ended.Sub(t0)
			t.Logf("answered %d, 429s passed on %d, lowest limit learned %d, took %v", w.answered, w.passed, w.lowest, took)
			if w.answered != 6 || w.passed != 0 {
				t.Errorf("%d turns answered, %d 429s reached claude; want 6 and none", w.answered, w.passed)
			}
			if took > ideal*3/2 {
				t.Errorf("the turns took %v; the quota allows %v, at most 1.5x that: %v", took, ideal, ideal*3/2)
			}
		})
	}
}

// TestLearnedOutlivesItsSession: session A learns a limit from a 429 where
// no quota is known and B, which read A's state, takes it on. Once A has
// ended (its state gone from the ledger) or sits idle (its state as of
// then), B still paces at that limit, does not cut again for a 429 of the
// burst A cut for, and raises and forgets the limit as A does.
func TestLearnedOutlivesItsSession(t *testing.T) {
	for _, ended := range []bool{true, false} {
		name := map[bool]string{true: "A ended", false: "A idle"}[ended]
		t.Run(name, func(t *testing.T) {
			a, b := governor.NewModel(governor.Config{}), governor.NewModel(governor.Config{})
			learned := func(m *governor.Model, now time.Time) int { return m.Export(now, 1).Buckets[0].Learned }
			admitted := func(adm []governor.Admitted) int {
				n := 0
				for _, x := range adm {
					if x.Why == governor.Fit {
						n++
					}
				}
				return n
			}
			b1 := b.Enqueue(at(0), req(5904, 4096)) // holds 10000
			b.Admit(at(0), []governor.State{a.Export(at(0), 1)})
			a1 := a.Enqueue(at(0), req(95904, 4096)) // 100000
			a2 := a.Enqueue(at(0), req(95904, 4096))
			a.Admit(at(0), []governor.State{b.Export(at(0), 2)})
			a.Throttled(at(1), a2, []governor.State{b.Export(at(1), 2)}) // cut to 0.7 x 210000
			const cut = 147000
			if got := learned(a, at(1)); got != cut {
				t.Fatalf("A learned %d, want %d", got, cut)
			}
			a.Done(at(1), a1, governor.Usage{}, 500, nil) // it failed: nothing used

			b.Enqueue(at(2), req(45904, 4096)) // 50000
			aState := []governor.State{a.Export(at(2), 1)}
			if n := admitted(b.Admit(at(2), aState)); n != 1 {
				t.Fatalf("B admitted %d of 1 fitting under A's limit", n)
			}
			var others []governor.State // what B reads of A from now on
			if !ended {
				others = aState
			}
			b.Throttled(at(3), b1, others) // admitted before A's cut: no second cut
			if got := learned(b, at(3)); got != cut {
				t.Errorf("after a 429 of the burst A cut for, B's limit is %d, want A's %d", got, cut)
			}
			b.Enqueue(at(3), req(95904, 4096)) // 100000 beside the 50000 in flight
			if n := admitted(b.Admit(at(3), others)); n != 0 {
				t.Errorf("B admitted %d requests over A's limit of %d", n, cut)
			}
			if n := admitted(b.Admit(at(60), others)); n != 0 {
				t.Errorf("B admitted %d requests over A's limit before a quiet minute passed", n)
			}
			if n := admitted(b.Admit(at(61), others)); n != 1 {
				t.Errorf("after a quiet minute B admitted %d of 1 fitting under A's raised limit", n)
			}
			for _, s := range []int{61, 121, 60 * 60, 1 + 60*60} {
				if got, want := learned(b, at(s)), learned(a, at(s)); got != want {
					t.Errorf("at %d s B's limit is %d, A's %d", s, got, want)
				}
			}
			if got := learned(b, at(1+60*60)); got != 0 {
				t.Errorf("an hour after A's cut B still has a limit of %d", got)
			}
		})
	}
}
