package governor

import (
	"slices"
	"strings"
	"time"
)

// State is what one session knows of its buckets at one moment: what it
// publishes for the other sessions of the user on the machine (they share
// one budget per bucket) and what `claude-bedrock +status` reads.
type State struct {
	// PID is the session's gateway process.
	PID int `json:"pid"`
	// Time is when the state was taken.
	Time    time.Time     `json:"time"`
	Buckets []BucketState `json:"buckets"`
}

// BucketState is one session's share of one bucket.
type BucketState struct {
	Bucket Bucket `json:"bucket"`
	// Limits are the bucket's quotas as the session was given them.
	Limits Limits `json:"limits"`
	// Learned is the limit the session learned from 429s, or adopted from
	// another session, 0 when none is in effect; Changed when it last
	// moved and Cut when it was last cut (Unix ms): the 429s of requests
	// sent before then, in any session, do not cut again.
	Learned int   `json:"learned,omitempty"`
	Changed int64 `json:"changed,omitempty"`
	Cut     int64 `json:"cut,omitempty"`
	// Held is the tokens its requests in flight hold; InFlight their number.
	Held     int `json:"held"`
	InFlight int `json:"in_flight"`
	// Waiting is how many of its requests wait; the head of its queue holds
	// HeadHold once admitted and waits since HeadSince (Unix ms).
	Waiting   int   `json:"waiting"`
	HeadHold  int   `json:"head_hold,omitempty"`
	HeadSince int64 `json:"head_since,omitempty"`
	// Window is what its requests settled to in the last minute, oldest
	// first; Starts the Unix ms its requests were admitted at, for RPM.
	Window []Tally `json:"window,omitempty"`
	Starts []Tally `json:"starts,omitempty"`
	Day    string  `json:"day"`
	// Absorbed and Passed count the 429s of Day the session queued again
	// and those it passed on to claude.
	Absorbed int `json:"absorbed,omitempty"`
	Passed   int `json:"passed,omitempty"`
}

// Tally is an amount counted in a window at At (Unix ms): the tokens
// requests settled to, or the number of requests admitted. Amounts of the
// same second share one Tally, at the latest time among them (so it leaves
// the window no earlier than each would have): a window holds at most 60.
type Tally struct {
	At int64 `json:"at"`
	N  int   `json:"n"`
}

// tally adds n at time at to ts.
func tally(ts []Tally, at int64, n int) []Tally {
	if k := len(ts) - 1; k >= 0 && ts[k].At/1000 == at/1000 {
		ts[k].At, ts[k].N = max(ts[k].At, at), ts[k].N+n
		return ts
	}
	return append(ts, Tally{At: at, N: n})
}

// sumSince sums the tallies after cutoff (Unix ms).
func sumSince(ts []Tally, cutoff int64) int {
	n := 0
	for _, t := range ts {
		if t.At > cutoff {
			n += t.N
		}
	}
	return n
}

// prune drops the tallies at or before cutoff (Unix ms): they are oldest
// first.
func prune(ts []Tally, cutoff int64) []Tally {
	i := 0
	for i < len(ts) && ts[i].At <= cutoff {
		i++
	}
	return ts[i:]
}

// Export returns the model's state at now for pid, buckets in the order
// they were first used.
func (m *Model) Export(now time.Time, pid int) State {
	now = m.at(now)
	st := State{PID: pid, Time: now, Buckets: make([]BucketState, 0, len(m.order))}
	for _, b := range m.order {
		m.refresh(b, now, nil)
		bs := BucketState{
			Bucket: b.key, Limits: b.limits, Learned: b.learned,
			Held: b.held, InFlight: b.inflight, Waiting: len(b.queue),
			Window: slices.Clone(b.window), Starts: slices.Clone(b.starts), Day: b.day,
			Absorbed: b.absorbed, Passed: b.passed,
		}
		if !b.changed.IsZero() {
			bs.Changed = b.changed.UnixMilli()
		}
		if !b.cut.IsZero() {
			bs.Cut = b.cut.UnixMilli()
		}
		if len(b.queue) > 0 {
			bs.HeadHold, bs.HeadSince = b.queue[0].hold, b.queue[0].since.UnixMilli()
		}
		st.Buckets = append(st.Buckets, bs)
	}
	return st
}

// Sources of a bucket's limit, as Status shows them.
const (
	SourceServiceQuotas = "service quotas"
	SourceProfile       = "profile"
	SourceLearned       = "learned"
)

// Status is what the governor knows of every bucket the user's sessions on
// this machine use: what `claude-bedrock +status` prints (and --json
// serialises).
type Status struct {
	Time     time.Time      `json:"time"`
	Sessions int            `json:"sessions"`
	Buckets  []BucketStatus `json:"buckets"`
}

// BucketStatus is one bucket in a Status.
type BucketStatus struct {
	Bucket Bucket `json:"bucket"`
	// Limit is the tokens per minute admission keeps under, 0 when unknown;
	// Quota the quota itself; Source where Limit came from: service
	// quotas, profile, learned (from 429s) or "" (unknown).
	Limit             int    `json:"limit"`
	Quota             int    `json:"quota,omitempty"`
	RequestsPerMinute int    `json:"requests_per_minute,omitempty"`
	Source            string `json:"source"`
	// UsedLastMinute is the tokens settled in the last minute; Held the
	// tokens held by the InFlight requests; Waiting the requests queued.
	UsedLastMinute int `json:"used_last_minute"`
	Held           int `json:"held"`
	InFlight       int `json:"in_flight"`
	Waiting        int `json:"waiting"`
	// Absorbed and Passed count today's 429s: queued again by the governor
	// (claude never saw them) and passed on to claude.
	Absorbed int `json:"throttles_absorbed"`
	Passed   int `json:"throttles_passed"`
}

// Summarize merges the states of the sessions sharing a machine's budget
// into one Status at now: per bucket, the strictest limit any of them
// knows, and the sums of the rest. Counts of another day are left out.
func Summarize(now time.Time, states []State) Status {
	s := Status{Time: now, Sessions: len(states)}
	idx := map[Bucket]int{}
	cutoff := now.Add(-Window).UnixMilli()
	today := day(now)
	for _, st := range states {
		for i := range st.Buckets {
			bs := &st.Buckets[i]
			j, ok := idx[bs.Bucket]
			if !ok {
				j = len(s.Buckets)
				idx[bs.Bucket] = j
				s.Buckets = append(s.Buckets, BucketStatus{Bucket: bs.Bucket})
			}
			o := &s.Buckets[j]
			if q := bs.Limits.TokensPerMinute; q > 0 && (o.Quota == 0 || q < o.Quota) {
				o.Quota, o.Source = q, bs.Limits.Source
			}
			if r := bs.Limits.RequestsPerMinute; r > 0 && (o.RequestsPerMinute == 0 || r < o.RequestsPerMinute) {
				o.RequestsPerMinute = r
			}
			if bs.Learned > 0 {
				// As it stands now: a session with nothing to do publishes
				// nothing new, and its limit has risen since, or is forgotten.
				l := bs.learning(now)
				l.raise(now, bs.Limits.TokensPerMinute)
				if l.learned > 0 && (o.Limit == 0 || l.learned < o.Limit) {
					o.Limit = l.learned
				}
			}
			o.UsedLastMinute += sumSince(bs.Window, cutoff)
			o.Held += bs.Held
			o.InFlight += bs.InFlight
			o.Waiting += bs.Waiting
			if bs.Day == today {
				o.Absorbed += bs.Absorbed
				o.Passed += bs.Passed
			}
		}
	}
	for i := range s.Buckets {
		o := &s.Buckets[i]
		switch {
		case o.Limit > 0 && (o.Quota == 0 || o.Limit < o.Quota):
			o.Source = SourceLearned
		default:
			o.Limit = o.Quota
		}
	}
	slices.SortStableFunc(s.Buckets, func(a, b BucketStatus) int {
		return strings.Compare(a.Bucket.Region+"\x00"+a.Bucket.Model+"\x00"+a.Bucket.Kind,
			b.Bucket.Region+"\x00"+b.Bucket.Model+"\x00"+b.Bucket.Kind)
	})
	return s
}

// LargestCap is Governor.LargestCap for a process that only reads the
// ledger (the launcher's offer after a 429): the largest output cap with
// which one request of input tokens fits the limit known for bucket b; ok
// is false when the bucket is not in s or its limit is unknown.
func (s Status) LargestCap(b Bucket, input, burndown int) (capTokens int, ok bool) {
	for _, bs := range s.Buckets {
		if bs.Bucket == b {
			return largestCap(bs.Limit, input, burndown)
		}
	}
	return 0, false
}
