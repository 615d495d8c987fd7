package governor_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/google/go-cmp/cmp"
)

var (
	t0     = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	sonnet = governor.Bucket{Region: "us-west-2", Model: "anthropic.claude-sonnet-4-5-20250929-v1:0", Kind: "cross-region"}
	haiku  = governor.Bucket{Region: "us-west-2", Model: "anthropic.claude-haiku-4-5-20251001-v1:0", Kind: "cross-region"}
)

// req is a request of bucket sonnet at burndown 1 whose hold is input +
// max(maxTokens, 4096): small numbers a reader can add up.
func req(input, maxTokens int) governor.Request {
	return governor.Request{Bucket: sonnet, Session: "s", Input: input, MaxTokens: maxTokens, Burndown: 1}
}

func tpm(n int) func(governor.Bucket) governor.Limits {
	return func(governor.Bucket) governor.Limits {
		return governor.Limits{TokensPerMinute: n, Source: governor.SourceProfile}
	}
}

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestHoldOf(t *testing.T) {
	tests := []struct {
		name  string
		r     governor.Request
		input int
		want  int
	}{
		{"input plus burndown times max_tokens", governor.Request{MaxTokens: 32000, Burndown: 5}, 20000, 20000 + 5*32000},
		{"max_tokens counted at no less than 4096", governor.Request{MaxTokens: 1000, Burndown: 5}, 100, 100 + 5*4096},
		{"a probe holds what it asks", governor.Request{MaxTokens: 1, Burndown: 5, Probe: true}, 10, 15},
		{"burndown unknown counts as 1", governor.Request{MaxTokens: 8192}, 0, 8192},
		{"negative input counts as none", governor.Request{MaxTokens: 8192, Burndown: 1}, -50, 8192},
		{"negative max_tokens counts as the minimum", governor.Request{MaxTokens: -1, Burndown: 1}, 0, 4096},
		{"a probe with negative max_tokens holds its input", governor.Request{MaxTokens: -1, Burndown: 3, Probe: true}, 7, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := governor.HoldOf(tt.r, tt.input); got != tt.want {
				t.Errorf("HoldOf = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSettled(t *testing.T) {
	tests := []struct {
		name     string
		u        governor.Usage
		burndown int
		want     int
	}{
		{"input, cache writes and burndown x output", governor.Usage{Input: 1000, CacheWrite: 200, Output: 300}, 5, 1000 + 200 + 1500},
		{"cache reads are free", governor.Usage{Input: 10, CacheRead: 90000, Output: 1}, 1, 11},
		{"nothing used", governor.Usage{}, 5, 0},
		{"negative counts count as none", governor.Usage{Input: -5, CacheWrite: -1, Output: -3}, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := governor.Settled(tt.u, tt.burndown); got != tt.want {
				t.Errorf("Settled = %d, want %d", got, tt.want)
			}
		})
	}
}

// step is one event in a scripted run of a Model.
type step struct {
	at  int    // seconds after t0
	op  string // enqueue, admit, start, throttle, done, cancel
	r   governor.Request
	n   int // the ticket (by enqueue order, from 1) for start/throttle/done/cancel; input for start
	in  int
	u   governor.Usage
	st  int // status for done
	out string
}

// run plays steps on a model and returns what each step answered, in a
// form a table can spell: admissions as "#ticket why", a throttle as
// "retry" or "pass".
func run(t *testing.T, c governor.Config, steps []step) []string {
	t.Helper()
	m := governor.NewModel(c)
	var tickets []governor.Ticket
	var got []string
	var others []governor.State
	for _, s := range steps {
		now := at(s.at)
		switch s.op {
		case "other cut": // another session cuts the limit to n now
			others = []governor.State{{PID: 2, Buckets: []governor.BucketState{{Bucket: sonnet, Learned: s.n, Cut: now.UnixMilli()}}}}
		case "enqueue":
			tickets = append(tickets, m.Enqueue(now, s.r))
		case "admit":
			out := ""
			for _, a := range m.Admit(now, others) {
				for i, tk := range tickets {
					if tk == a.Ticket {
						out += " #" + itoa(i+1) + " " + a.Why.String()
					}
				}
			}
			got = append(got, "admit:"+out)
		case "start":
			m.Started(tickets[s.n-1], s.in)
		case "throttle":
			if m.Throttled(now, tickets[s.n-1], others) {
				got = append(got, "retry")
			} else {
				got = append(got, "pass")
			}
		case "done":
			m.Done(now, tickets[s.n-1], s.u, s.st, nil)
		case "cancel":
			m.Cancel(tickets[s.n-1])
		case "wake":
			w, ok := m.Wake(now, nil)
			if !ok {
				got = append(got, "wake: none")
			} else {
				got = append(got, "wake: "+itoa(int(w.Sub(t0)/time.Second)))
			}
		case "limit":
			st := governor.Summarize(now, append([]governor.State{m.Export(now, 1)}, others...))
			got = append(got, "limit: "+itoa(st.Buckets[0].Limit)+" "+st.Buckets[0].Source)
		default:
			t.Fatalf("unknown op %q", s.op)
		}
	}
	return got
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestAdmission(t *testing.T) {
	ok := governor.Usage{Input: 1000, Output: 100}
	tests := []struct {
		name  string
		c     governor.Config
		steps []step
		want  []string
	}{
		{
			name: "requests that fit go; the next waits until the window frees room",
			c:    governor.Config{Limits: tpm(20000)},
			steps: []step{
				{op: "enqueue", r: req(5904, 4096)}, // holds 10000
				{op: "enqueue", r: req(5904, 4096)},
				{op: "enqueue", r: req(5904, 4096)},
				{op: "admit"},
				{at: 10, op: "done", n: 1, u: governor.Usage{Input: 9000, Output: 1000}, st: 200}, // settles 10000
				{at: 10, op: "admit"},
				{at: 10, op: "wake"},
				{at: 69, op: "admit"},
				{at: 70, op: "admit"},
			},
			want: []string{"admit: #1 fit #2 fit", "admit:", "wake: 70", "admit:", "admit: #3 fit"},
		},
		{
			name: "no overtaking: a big head blocks a small request behind it",
			c:    governor.Config{Limits: tpm(20000)},
			steps: []step{
				{op: "enqueue", r: req(5904, 4096)},  // 10000
				{op: "enqueue", r: req(10000, 4096)}, // 14096: waits
				{op: "enqueue", r: req(0, 4096)},     // 4096 would fit, but is behind
				{op: "admit"},
				{at: 1, op: "done", n: 1, st: 500}, // failed before any token: settles nothing
				{at: 1, op: "admit"},
			},
			want: []string{"admit: #1 fit", "admit: #2 fit #3 fit"},
		},
		{
			name: "a request bigger than the limit goes alone, once nothing is in flight",
			c:    governor.Config{Limits: tpm(20000)},
			steps: []step{
				{op: "enqueue", r: req(0, 4096)},
				{op: "enqueue", r: req(30000, 4096)},
				{op: "admit"},
				{at: 5, op: "done", n: 1, u: ok, st: 200},
				{at: 5, op: "admit"},
			},
			want: []string{"admit: #1 fit", "admit: #2 alone"},
		},
		{
			name: "past the max wait a request goes anyway",
			c:    governor.Config{Limits: tpm(20000), MaxWait: 30 * time.Second},
			steps: []step{
				{op: "enqueue", r: req(10000, 4096)},
				{at: 1, op: "enqueue", r: req(10000, 4096)},
				{at: 1, op: "admit"},
				{at: 1, op: "wake"},
				{at: 30, op: "admit"},
				{at: 31, op: "admit"},
			},
			want: []string{"admit: #1 fit", "wake: 31", "admit:", "admit: #2 max wait"},
		},
		{
			name: "a probe goes at once, past a blocked queue",
			c:    governor.Config{Limits: tpm(20000)},
			steps: []step{
				{op: "enqueue", r: req(15000, 4096)},
				{op: "enqueue", r: req(15000, 4096)},
				{op: "enqueue", r: governor.Request{Bucket: sonnet, Input: 100, MaxTokens: 1, Burndown: 5, Probe: true}},
				{op: "admit"},
			},
			want: []string{"admit: #3 probe #1 fit"},
		},
		{
			name: "requests per minute count admissions in the window",
			c: governor.Config{Limits: func(governor.Bucket) governor.Limits {
				return governor.Limits{RequestsPerMinute: 2}
			}},
			steps: []step{
				{op: "enqueue", r: req(0, 4096)},
				{op: "enqueue", r: req(0, 4096)},
				{op: "enqueue", r: req(0, 4096)},
				{op: "admit"},
				{at: 2, op: "done", n: 1, u: ok, st: 200},
				{at: 2, op: "done", n: 2, u: ok, st: 200},
				{at: 2, op: "admit"},
				{at: 2, op: "wake"},
				{at: 60, op: "admit"},
			},
			want: []string{"admit: #1 fit #2 fit", "admit:", "wake: 60", "admit: #3 fit"},
		},
		{
			name: "with no quota known nothing waits",
			c:    governor.Config{},
			steps: []step{
				{op: "enqueue", r: req(900000, 128000)},
				{op: "enqueue", r: req(900000, 128000)},
				{op: "admit"},
				{op: "limit"},
			},
			want: []string{"admit: #1 fit #2 fit", "limit: 0 "},
		},
		{
			name: "a cancelled head lets the next go",
			c:    governor.Config{Limits: tpm(20000)},
			steps: []step{
				{op: "enqueue", r: req(10000, 4096)},
				{op: "enqueue", r: req(10000, 4096)},
				{op: "enqueue", r: req(0, 4096)},
				{op: "admit"},
				{op: "cancel", n: 2},
				{op: "admit"},
			},
			want: []string{"admit: #1 fit", "admit: #3 fit"},
		},
		{
			name: "the real input replaces the estimate in the hold",
			c:    governor.Config{Limits: tpm(20000)},
			steps: []step{
				{op: "enqueue", r: req(12000, 4096)}, // 16096
				{op: "enqueue", r: req(1000, 4096)},  // 5096: waits
				{op: "admit"},
				{op: "start", n: 1, in: 2000}, // 6096
				{op: "admit"},
			},
			want: []string{"admit: #1 fit", "admit: #2 fit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, run(t, tt.c, tt.steps)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestLearning(t *testing.T) {
	tests := []struct {
		name  string
		c     governor.Config
		steps []step
		want  []string
	}{
		{
			name: "an unpredicted 429 cuts to 0.7x; each quiet minute adds a tenth of the quota back",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(45904, 4096)}, // 50000
				{op: "enqueue", r: req(45904, 4096)},
				{op: "admit"},
				{at: 1, op: "throttle", n: 2},
				{at: 1, op: "limit"},
				{at: 60, op: "limit"},
				{at: 61, op: "limit"},
				{at: 121, op: "limit"},
				{at: 181, op: "limit"},
				{at: 241, op: "limit"},
			},
			want: []string{"admit: #1 fit #2 fit", "retry", "limit: 70000 learned", "limit: 70000 learned",
				"limit: 80000 learned", "limit: 90000 learned", "limit: 100000 profile", "limit: 100000 profile"},
		},
		{
			name: "429s of requests sent before the cut do not cut again",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(25904, 4096)}, // 30000
				{op: "enqueue", r: req(25904, 4096)},
				{op: "enqueue", r: req(25904, 4096)},
				{op: "admit"},
				{at: 1, op: "throttle", n: 3},
				{at: 1, op: "throttle", n: 2},
				{at: 1, op: "limit"},
			},
			want: []string{"admit: #1 fit #2 fit #3 fit", "retry", "retry", "limit: 63000 learned"},
		},
		{
			name: "nor do those of requests another session sent before its cut",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(25904, 4096)}, // 30000
				{op: "enqueue", r: req(25904, 4096)},
				{op: "admit"},
				{at: 1, op: "other cut", n: 63000},
				{at: 1, op: "throttle", n: 2},
				{at: 1, op: "limit"},
				{at: 2, op: "enqueue", r: req(25904, 4096)},
				{at: 2, op: "admit"},
				{at: 3, op: "throttle", n: 3},
				{at: 3, op: "limit"},
			},
			want: []string{"admit: #1 fit #2 fit", "retry", "limit: 63000 learned", "admit: #3 fit", "retry", "limit: 42000 learned"},
		},
		{
			name: "the cut is of the load when the load was below the limit",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(15904, 4096)}, // 20000
				{op: "enqueue", r: req(15904, 4096)},
				{op: "admit"},
				{at: 1, op: "throttle", n: 2},
				{at: 1, op: "limit"},
			},
			want: []string{"admit: #1 fit #2 fit", "retry", "limit: 28000 learned"},
		},
		{
			name: "never below one request's hold",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(55904, 4096)}, // 60000
				{op: "admit"},
				{op: "enqueue", r: req(0, 4096)},
				{op: "admit"},
				{at: 1, op: "throttle", n: 1},
				{at: 1, op: "limit"},
			},
			want: []string{"admit: #1 fit", "admit: #2 fit", "retry", "limit: 60000 learned"},
		},
		{
			name: "a 429 after the max wait was predicted: no cut",
			c:    governor.Config{Limits: tpm(20000)},
			steps: []step{
				{op: "enqueue", r: req(10000, 4096)},
				{op: "enqueue", r: req(10000, 4096)},
				{op: "admit"},
				{at: 90, op: "admit"},
				{at: 91, op: "throttle", n: 2},
				{at: 91, op: "limit"},
			},
			want: []string{"admit: #1 fit", "admit: #2 max wait", "retry", "limit: 20000 profile"},
		},
		{
			name: "alone in flight: the cap does not fit, the 429 goes on at once",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(50000, 4096)},
				{op: "admit"},
				{at: 1, op: "throttle", n: 1},
			},
			want: []string{"admit: #1 fit", "pass"},
		},
		{
			name: "a throttled request is queued again at the head of its queue",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(15904, 4096)}, // #1 20000
				{op: "enqueue", r: req(5904, 4096)},  // #2 10000
				{op: "admit"},
				{at: 1, op: "throttle", n: 1}, // the limit is cut to 21000
				{at: 1, op: "done", n: 2, st: 500},
				{at: 1, op: "enqueue", r: req(1, 4096)},     // #3: another request
				{at: 2, op: "enqueue", r: req(15904, 4096)}, // #4: the retry of #1
				{at: 2, op: "admit"},
			},
			want: []string{"admit: #1 fit #2 fit", "retry", "admit: #4 fit"},
		},
		{
			name: "equal requests throttled together retry in turn, ahead of the queue",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(0, 4096)},     // #1
				{op: "enqueue", r: req(15904, 4096)}, // #2 20000
				{op: "enqueue", r: req(15904, 4096)}, // #3 the same
				{op: "admit"},
				{at: 1, op: "throttle", n: 3},               // the limit is cut to 0.7 x 44096 = 30867
				{at: 1, op: "throttle", n: 2},               // sent before the cut: no second cut
				{at: 2, op: "enqueue", r: req(1, 4096)},     // #4: another request
				{at: 2, op: "enqueue", r: req(15904, 4096)}, // #5: #3's retry
				{at: 2, op: "enqueue", r: req(15904, 4096)}, // #6: #2's retry
				{at: 2, op: "admit"},
				{at: 3, op: "done", n: 1, st: 500},
				{at: 3, op: "done", n: 5, st: 500},
				{at: 3, op: "admit"},
			},
			want: []string{"admit: #1 fit #2 fit #3 fit", "retry", "retry", "admit: #5 fit", "admit: #6 fit #4 fit"},
		},
		{
			name: "twice, then its 429 goes on; its wait stays bounded across attempts",
			c:    governor.Config{Limits: tpm(100000), MaxWait: 10 * time.Second},
			steps: []step{
				{op: "enqueue", r: req(35904, 4096)}, // #1 40000
				{op: "enqueue", r: req(0, 4096)},     // #2 stays in flight
				{op: "admit"},
				{at: 1, op: "throttle", n: 1}, // the limit is cut to 40000: #1 cannot fit beside #2
				{at: 11, op: "enqueue", r: req(35904, 4096)},
				{at: 11, op: "admit"},
				{at: 12, op: "throttle", n: 3},
				{at: 12, op: "enqueue", r: req(35904, 4096)},
				{at: 12, op: "admit"},
				{at: 13, op: "throttle", n: 4},
			},
			want: []string{"admit: #1 fit #2 fit", "retry", "admit: #3 max wait", "retry", "admit: #4 max wait", "pass"},
		},
		{
			name: "a probe's 429 goes on at once, and teaches nothing",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(50000, 4096)},
				{op: "enqueue", r: governor.Request{Bucket: sonnet, Input: 10, MaxTokens: 1, Burndown: 5, Probe: true}},
				{op: "admit"},
				{at: 1, op: "throttle", n: 2},
				{at: 1, op: "limit"},
			},
			want: []string{"admit: #2 probe #1 fit", "pass", "limit: 100000 profile"},
		},
		{
			name: "with no quota known a 429 learns a limit from the load",
			c:    governor.Config{},
			steps: []step{
				{op: "enqueue", r: req(95904, 4096)}, // 100000
				{op: "enqueue", r: req(95904, 4096)},
				{op: "admit"},
				{at: 1, op: "throttle", n: 2},
				{at: 1, op: "limit"},
				{at: 61, op: "limit"},
				{at: 1 + 60*60, op: "limit"},
			},
			want: []string{"admit: #1 fit #2 fit", "retry", "limit: 140000 learned", "limit: 154000 learned", "limit: 0 "},
		},
		{
			name: "a 429 passed on in Done counts like Throttled",
			c:    governor.Config{Limits: tpm(100000)},
			steps: []step{
				{op: "enqueue", r: req(45904, 4096)},
				{op: "enqueue", r: req(45904, 4096)},
				{op: "admit"},
				{at: 1, op: "done", n: 2, st: 429},
				{at: 1, op: "limit"},
			},
			want: []string{"admit: #1 fit #2 fit", "limit: 70000 learned"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, run(t, tt.c, tt.steps)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestSharedBudget: other sessions' holds, usage, learned limits and older
// queue heads all count against this session's admissions.
func TestSharedBudget(t *testing.T) {
	other := func(bs governor.BucketState) []governor.State {
		bs.Bucket = sonnet
		return []governor.State{{PID: 2, Time: at(0), Buckets: []governor.BucketState{bs}}}
	}
	stopped := func(bs governor.BucketState) []governor.State {
		st := other(bs)
		st[0].Time = at(-30)
		return st
	}
	tests := []struct {
		name   string
		input  int
		others []governor.State
		want   []governor.Why
	}{
		{"alone on the machine it fits", 10000, nil, []governor.Why{governor.Fit}},
		{"another session's hold counts", 10000, other(governor.BucketState{Held: 10000, InFlight: 1}), nil},
		{"another session's last minute counts", 10000, other(governor.BucketState{Window: []governor.Tally{{At: at(-30).UnixMilli(), N: 10000}}}), nil},
		{"usage older than a minute does not", 10000, other(governor.BucketState{Window: []governor.Tally{{At: at(-60).UnixMilli(), N: 10000}}}), []governor.Why{governor.Fit}},
		{"another session's learned limit counts", 10000, other(governor.BucketState{Learned: 16000, Window: []governor.Tally{{At: at(-30).UnixMilli(), N: 5000}}}), nil},
		{"an older waiting head of another session goes first", 10000, other(governor.BucketState{Waiting: 1, HeadHold: 10000, HeadSince: at(-1).UnixMilli()}), nil},
		{"a younger one does not", 10000, other(governor.BucketState{Waiting: 1, HeadHold: 10000, HeadSince: at(1).UnixMilli()}), []governor.Why{governor.Fit}},
		{"nor does one of a session stopped for long: its held tokens still count", 5000, stopped(governor.BucketState{Held: 5000, InFlight: 1, Waiting: 1, HeadHold: 10000, HeadSince: at(-31).UnixMilli()}), []governor.Why{governor.Fit}},
		{"a stopped session's hold alone counts", 11000, stopped(governor.BucketState{Held: 5000, InFlight: 1, Waiting: 1, HeadHold: 1, HeadSince: at(-31).UnixMilli()}), nil},
		{"bigger than the limit, with another session's request in flight: waits", 30000, other(governor.BucketState{InFlight: 1, Held: 1}), nil},
		{"bigger than the limit, nothing in flight anywhere: alone", 30000, nil, []governor.Why{governor.Alone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := governor.NewModel(governor.Config{Limits: tpm(20000)})
			m.Enqueue(at(0), req(tt.input, 4096))
			var got []governor.Why
			for _, a := range m.Admit(at(0), tt.others) {
				got = append(got, a.Why)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestLargestCap(t *testing.T) {
	limits := func(b governor.Bucket) governor.Limits {
		if b == haiku {
			return governor.Limits{}
		}
		return governor.Limits{TokensPerMinute: 200000, Source: governor.SourceServiceQuotas}
	}
	tests := []struct {
		name     string
		b        governor.Bucket
		input    int
		burndown int
		others   []governor.State
		want     int
		ok       bool
	}{
		{"the quota less the input, over the burndown, rounded down", sonnet, 20000, 5, nil, 35840, true},
		{"a learned limit is what is known", sonnet, 20000, 5, []governor.State{{Buckets: []governor.BucketState{{Bucket: sonnet, Learned: 100000}}}}, 15872, true},
		{"no quota known", haiku, 20000, 5, nil, 0, false},
		{"a limit learned minutes ago has risen since: 100000 + 2 x 20000", sonnet, 20000, 5, []governor.State{{Buckets: []governor.BucketState{{
			Bucket: sonnet, Learned: 100000, Changed: t0.Add(-2 * time.Minute).UnixMilli(),
			Limits: governor.Limits{TokensPerMinute: 200000, Source: governor.SourceServiceQuotas}}}}}, 23808, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := governor.NewModel(governor.Config{Limits: limits}) // a model adopts what it sees
			got, ok := m.LargestCap(t0, tt.b, tt.input, tt.burndown, tt.others)
			if got != tt.want || ok != tt.ok {
				t.Errorf("LargestCap = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
			// The same from the status a reader of the ledger sees.
			st := governor.Summarize(t0, append([]governor.State{m.Export(t0, 1)}, tt.others...))
			got, ok = st.LargestCap(tt.b, tt.input, tt.burndown)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Status.LargestCap = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestDoneTwiceChangesNothing(t *testing.T) {
	m := governor.NewModel(governor.Config{Limits: tpm(100000)})
	tk := m.Enqueue(at(0), req(1000, 4096))
	m.Admit(at(0), nil)
	m.Done(at(1), tk, governor.Usage{Input: 1000, Output: 10}, 200, nil)
	want := m.Export(at(2), 1)
	m.Done(at(2), tk, governor.Usage{Input: 5000, Output: 10}, 200, nil)
	m.Throttled(at(2), tk, nil)
	m.Cancel(tk)
	m.Started(tk, 9000)
	if diff := cmp.Diff(want, m.Export(at(2), 1)); diff != "" {
		t.Errorf("a second end changed the state (-want +got)\n%s", diff)
	}
	if got := want.Buckets[0].Window; len(got) != 1 || got[0].N != 1010 {
		t.Errorf("window = %v, want one spend of 1010", got)
	}
}

func TestSummarize(t *testing.T) {
	now := at(0)
	states := []governor.State{
		{PID: 1, Buckets: []governor.BucketState{
			{Bucket: sonnet, Limits: governor.Limits{TokensPerMinute: 200000, RequestsPerMinute: 50, Source: governor.SourceServiceQuotas},
				Held: 30000, InFlight: 1, Waiting: 2, Day: "2026-12-02", Absorbed: 3, Passed: 1,
				Window: []governor.Tally{{At: at(-61).UnixMilli(), N: 999}, {At: at(-10).UnixMilli(), N: 5000}}},
			{Bucket: haiku, Day: "2026-12-01", Absorbed: 7},
		}},
		{PID: 2, Buckets: []governor.BucketState{
			{Bucket: sonnet, Limits: governor.Limits{TokensPerMinute: 200000, Source: governor.SourceServiceQuotas},
				Learned: 140000, Held: 10000, InFlight: 1, Day: "2026-12-02", Absorbed: 1,
				Window: []governor.Tally{{At: at(-1).UnixMilli(), N: 2000}}},
		}},
	}
	want := governor.Status{Time: now, Sessions: 2, Buckets: []governor.BucketStatus{
		{Bucket: haiku, Source: ""},
		{Bucket: sonnet, Limit: 140000, Quota: 200000, RequestsPerMinute: 50, Source: governor.SourceLearned,
			UsedLastMinute: 7000, Held: 40000, InFlight: 2, Waiting: 2, Absorbed: 4, Passed: 1},
	}}
	got := governor.Summarize(now, states)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back governor.Status
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, back); diff != "" {
		t.Errorf("JSON round trip (-want +got)\n%s", diff)
	}
}

// A 429 reported with usage (a stream that a throttlingException ended
// after it started) cuts the limit as a 429 does and settles the usage.
func TestDoneThrottledSettlesItsUsage(t *testing.T) {
	m := governor.NewModel(governor.Config{Limits: tpm(100000)})
	tk := m.Enqueue(at(0), req(1000, 4096))
	m.Admit(at(0), nil)
	m.Done(at(1), tk, governor.Usage{Input: 1000, Output: 10}, 429, nil)
	b := m.Export(at(2), 1).Buckets[0]
	if b.Learned == 0 || b.Passed != 1 {
		t.Errorf("bucket %+v: want a learned limit and one 429 passed on", b)
	}
	if len(b.Window) != 1 || b.Window[0].N != 1010 {
		t.Errorf("window = %v, want one spend of 1010", b.Window)
	}
}
