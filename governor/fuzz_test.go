package governor_test

import (
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/google/go-cmp/cmp"
)

// FuzzModel plays a random sequence of events on a Model and checks after
// each one what must always hold: no hold is negative; an admission of the
// Fit kind keeps its bucket under the limit the harness reckons itself from
// the exported state (only probes, "alone" and "max wait" may go over);
// ending a request twice changes nothing; a learned limit is never below
// the hold of the request whose 429 taught it; a limit another session
// published is taken on only when lower; and once every request has ended
// nothing is held.
func FuzzModel(f *testing.F) {
	f.Add(uint32(20000), uint8(3), []byte{0, 10, 0, 10, 0, 200, 1, 4, 0, 6, 20, 1, 3, 1, 6, 255, 1})
	f.Add(uint32(0), uint8(0), []byte{0, 5, 0, 5, 1, 3, 0, 3, 1, 0, 5, 1, 5, 2, 1})
	f.Add(uint32(300000), uint8(10), []byte{0, 250, 0, 250, 0, 250, 0, 7, 1, 2, 0, 40, 1, 3, 2, 4, 1, 0, 1, 6, 90, 1})
	f.Add(uint32(0), uint8(0), []byte{0, 10, 200, 10, 0, 10, 200, 10, 1, 3, 1, 7, 100, 3, 9, 1, 6, 120, 1, 6, 120, 1, 4, 0, 1, 1, 1, 0})
	f.Fuzz(func(t *testing.T, tpm uint32, rpm uint8, ops []byte) {
		limits := func(b governor.Bucket) governor.Limits {
			if b == haiku {
				return governor.Limits{RequestsPerMinute: int(rpm)}
			}
			return governor.Limits{TokensPerMinute: int(tpm), RequestsPerMinute: int(rpm)}
		}
		m := governor.NewModel(governor.Config{Limits: limits, MaxWait: 30 * time.Second})
		now := t0
		latest := t0 // the model's time: now, or the latest before it
		type live struct {
			t        governor.Ticket
			r        governor.Request
			admitted bool
		}
		var reqs []*live
		var others []governor.State // another session's, as last published
		next := func(i *int) byte {
			if *i >= len(ops) {
				return 0
			}
			*i++
			return ops[*i-1]
		}
		pick := func(i *int) *live {
			if len(reqs) == 0 {
				return nil
			}
			n := int(next(i)) % len(reqs)
			return reqs[n]
		}
		drop := func(l *live) {
			for i, o := range reqs {
				if o == l {
					reqs = append(reqs[:i], reqs[i+1:]...)
					return
				}
			}
		}
		bucketState := func(st governor.State, b governor.Bucket) (governor.BucketState, bool) {
			for _, bs := range st.Buckets {
				if bs.Bucket == b {
					return bs, true
				}
			}
			return governor.BucketState{}, false
		}
		for i := 0; i < len(ops); {
			switch next(&i) % 8 {
			case 0: // a request
				b := sonnet
				a := next(&i)
				if a&1 == 1 {
					b = haiku
				}
				r := governor.Request{Bucket: b, Input: int(next(&i)) * 997, MaxTokens: int(next(&i)) * 509,
					Burndown: int(a>>1) % 16, Probe: a&0x80 != 0}
				if r.Probe {
					r.MaxTokens = 1
				}
				reqs = append(reqs, &live{t: m.Enqueue(now, r), r: r})
			case 1: // admission, checked against the harness's own reckoning
				before := m.Export(now, 1)
				adm := m.Admit(now, others)
				after := m.Export(now, 1)
				load := map[governor.Bucket]int{}
				inflight := map[governor.Bucket]int{}
				for _, a := range adm {
					var l *live
					for _, o := range reqs {
						if o.t == a.Ticket {
							l = o
						}
					}
					if l == nil || l.admitted {
						t.Fatalf("admitted %v, which is not waiting (%v)", a.Ticket, l != nil)
					}
					l.admitted = true
					b := l.r.Bucket
					bs, _ := bucketState(before, b)
					if _, ok := load[b]; !ok {
						load[b] = bs.Held
						inflight[b] = bs.InFlight
						for _, s := range bs.Window {
							if s.At > latest.Add(-governor.Window).UnixMilli() {
								load[b] += s.N
							}
						}
					}
					// The limit it learned, or took on in Admit from others.
					as, _ := bucketState(after, b)
					if bs.Learned > 0 && (as.Learned <= 0 || as.Learned > bs.Learned) {
						t.Fatalf("admission moved the learned limit from %d to %d", bs.Learned, as.Learned)
					}
					limit := limits(b).TokensPerMinute
					if as.Learned > 0 && (limit == 0 || as.Learned < limit) {
						limit = as.Learned
					}
					load[b] += a.Hold
					if a.Why == governor.Fit && limit > 0 && load[b] > limit {
						t.Fatalf("admitted %v as fitting with %d held and used over a limit of %d", a.Ticket, load[b], limit)
					}
					if a.Why == governor.Alone && inflight[b] != 0 {
						t.Fatalf("admitted %v alone beside %d in flight", a.Ticket, inflight[b])
					}
					inflight[b]++
				}
			case 2: // the real input
				if l := pick(&i); l != nil {
					m.Started(l.t, int(next(&i))*1009-5000)
				}
			case 3: // a 429
				if l := pick(&i); l != nil {
					// The others' limits taken on first: only a cut lowers it then.
					m.LargestCap(now, l.r.Bucket, 0, 1, others)
					before, _ := bucketState(m.Export(now, 1), l.r.Bucket)
					retry := m.Throttled(now, l.t, others)
					if !l.admitted && retry {
						t.Fatalf("a request never admitted was told to retry")
					}
					if l.admitted {
						bs, _ := bucketState(m.Export(now, 1), l.r.Bucket)
						if bs.Learned != 0 && bs.Learned < 1 {
							t.Fatalf("learned limit %d below one token", bs.Learned)
						}
						cut := bs.Learned != 0 && (before.Learned == 0 || bs.Learned < before.Learned)
						if cut && bs.Learned < governor.HoldOf(l.r, 0) {
							t.Fatalf("learned limit %d below the hold of the request it learned from", bs.Learned)
						}
						drop(l) // a waiting request is not throttled: it stays queued
					}
				}
			case 4: // the end, twice
				if l := pick(&i); l != nil {
					u := governor.Usage{Input: int(next(&i)) * 101, CacheWrite: int(next(&i)) * 13, Output: int(next(&i)) * 37}
					status := []int{200, 200, 500, 429}[next(&i)%4]
					m.Done(now, l.t, u, status, others)
					once := m.Export(now, 1)
					m.Done(now, l.t, u, status, others)
					m.Throttled(now, l.t, others)
					if diff := cmp.Diff(once, m.Export(now, 1)); diff != "" {
						t.Fatalf("ending a request twice changed the state (-once +twice)\n%s", diff)
					}
					if l.admitted {
						drop(l) // a waiting request cannot end: it stays queued
					}
				}
			case 5: // a client hanging up
				if l := pick(&i); l != nil {
					m.Cancel(l.t)
					drop(l)
				}
			case 6: // time passes (sometimes backwards: the model must not)
				d := time.Duration(int8(next(&i))) * 500 * time.Millisecond
				now = now.Add(d)
				if now.After(latest) {
					latest = now
				}
			case 7: // another session publishes a limit it learned, or ends
				n := int(next(&i)) * 997
				if n == 0 {
					others = nil
					break
				}
				changed := now.Add(-time.Duration(next(&i)) * 10 * time.Second)
				cut := changed.Add(-time.Duration(next(&i)) * time.Minute)
				others = []governor.State{{PID: 2, Time: now, Buckets: []governor.BucketState{
					{Bucket: sonnet, Learned: n, Changed: changed.UnixMilli(), Cut: cut.UnixMilli()},
				}}}
			}
			for _, bs := range m.Export(now, 1).Buckets {
				if bs.Held < 0 || bs.InFlight < 0 {
					t.Fatalf("bucket %v holds %d in %d requests", bs.Bucket, bs.Held, bs.InFlight)
				}
			}
			for _, l := range reqs {
				if h := governor.HoldOf(l.r, l.r.Input); h < 0 {
					t.Fatalf("hold %d of %+v", h, l.r)
				}
			}
		}
		for _, l := range reqs {
			m.Cancel(l.t)
		}
		for _, bs := range m.Export(now, 1).Buckets {
			if bs.Held != 0 || bs.InFlight != 0 || bs.Waiting != 0 {
				t.Fatalf("every request ended, yet bucket %v holds %d in %d requests, %d waiting", bs.Bucket, bs.Held, bs.InFlight, bs.Waiting)
			}
		}
	})
}
