package governor

import (
	"slices"
	"time"

	"github.com/claude-bedrock/claude-bedrock/quota"
)

// Window is the span Bedrock's per-minute quotas count over: a settled
// request weighs on its bucket for this long after it ended.
const Window = 60 * time.Second

// DefaultMaxWait is how long a request waits in the queue at most when the
// caller sets no other bound. Claude Code waits minutes for an answer's
// headers, so past this the request goes and Bedrock decides.
const DefaultMaxWait = 90 * time.Second

// Retries is how many times a throttled request is queued again before its
// 429 reaches claude.
const Retries = 2

// Learning: a 429 the model did not predict cuts the bucket's limit to
// cutNum/cutDen of what it was; each minute without one raises it again by
// raiseDen-th of the quota, as TCP's congestion window does.
const (
	cutNum, cutDen = 7, 10
	raiseDen       = 10
	// forgetAfter is how many minutes after its last cut the model forgets a limit
	// it learned where no quota is known: without a quota to climb back to,
	// it would otherwise grow without end.
	forgetAfter = 60
)

// Clamps keep the arithmetic far from overflow whatever a body claims:
// no real request comes near them.
const (
	maxInput     = 1 << 32
	maxMaxTokens = 1 << 24
	maxBurndown  = 1 << 10
)

// retryMemory is how long a throttled request's place is kept for its
// retry: the gateway jitters for a second or two, never minutes.
const retryMemory = 5 * time.Minute

// Ticket identifies one request inside a Model, from Enqueue to its end.
type Ticket uint64

// Why says on what ground a request was admitted.
type Why int

// The grounds of admission. Only Fit keeps the bucket under its limit; the
// others are the documented exceptions.
const (
	// Fit: its hold fitted under the bucket's limit, or no limit is known.
	Fit Why = iota
	// Probe: a start-up probe, let through at once.
	Probe
	// Alone: bigger than the whole limit, sent when nothing else was in
	// flight (it never fits; waiting longer cannot help).
	Alone
	// MaxWait: it waited the longest a request may; Bedrock decides.
	MaxWait
)

// String names the ground as tests and logs show it.
func (w Why) String() string {
	switch w {
	case Fit:
		return "fit"
	case Probe:
		return "probe"
	case Alone:
		return "alone"
	case MaxWait:
		return "max wait"
	}
	return "unknown"
}

// Admitted is one admission decision of Model.Admit.
type Admitted struct {
	Ticket Ticket
	Why    Why
	// Hold is the request's hold; Load what the bucket held and used (all
	// sessions) before it; Limit the effective limit then (0: unknown).
	Hold, Load, Limit int
}

// Config is what a Model is built from.
type Config struct {
	// Limits returns a bucket's quotas. It is asked at each decision (so a
	// quota fetched later takes effect) and must be quick; nil means every
	// quota is unknown.
	Limits func(Bucket) Limits
	// MaxWait bounds a request's wait in the queue; 0 means DefaultMaxWait.
	MaxWait time.Duration
}

// Model is the pure model of the quotas and the admission queue of one
// claude-bedrock session. Every method takes the time it happens at; a time
// earlier than one already seen counts as that one, so the model never runs
// backwards. It is not safe for concurrent use: Governor serialises it.
type Model struct {
	limits  func(Bucket) Limits
	maxWait time.Duration
	now     time.Time
	buckets map[Bucket]*bucket
	order   []*bucket // creation order: decisions are deterministic
	entries map[Ticket]*entry
	retries map[Request][]retryMark // oldest first: equal requests retry in turn
	last    Ticket
}

type bucket struct {
	key    Bucket
	limits Limits
	learning
	held     int // tokens held by admitted requests still in flight
	inflight int
	queue    []*entry
	window   []Tally // tokens settled in the last Window, oldest first
	starts   []Tally // requests admitted in the last Window, for RPM
	day      string
	absorbed int
	passed   int
}

// learning is a limit learned from 429s: learned is 0 when none is in
// effect; changed is when it last moved, cut when it was last cut.
type learning struct {
	learned      int
	changed, cut time.Time
}

type entry struct {
	t        Ticket
	req      Request // as acquired: a retry is known by it
	b        *bucket
	input    int
	hold     int
	since    time.Time // when it first queued, kept across retries
	attempt  int
	admitted bool
	at       time.Time // when admitted
	why      Why
	alone    bool // nothing else was in flight in its bucket while it was
}

type retryMark struct {
	attempt int
	since   time.Time
	at      time.Time
}

// NewModel returns an empty model.
func NewModel(c Config) *Model {
	if c.Limits == nil {
		c.Limits = func(Bucket) Limits { return Limits{} }
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	return &Model{
		limits:  c.Limits,
		maxWait: c.MaxWait,
		buckets: map[Bucket]*bucket{},
		entries: map[Ticket]*entry{},
		retries: map[Request][]retryMark{},
	}
}

// HoldOf returns what request r holds on its bucket while in flight with
// input tokens of input: input + burndown x max_tokens, max_tokens counted
// at no less than Bedrock's throttling minimum (except for a probe, which
// holds what it asks). A burndown below 1 counts as 1.
func HoldOf(r Request, input int) int {
	input = min(max(input, 0), maxInput)
	mt := min(max(r.MaxTokens, 0), maxMaxTokens)
	bd := burndown(r.Burndown)
	if r.Probe {
		return input + bd*mt
	}
	return quota.StartHold(input, mt, bd).High // the stricter of AWS's two readings
}

func burndown(b int) int { return min(max(b, 1), maxBurndown) }

// at records now and returns the model's time: now, or the latest time
// seen if now is earlier.
func (m *Model) at(now time.Time) time.Time {
	if now.After(m.now) {
		m.now = now
	}
	return m.now
}

func (m *Model) bucket(k Bucket) *bucket {
	b := m.buckets[k]
	if b == nil {
		b = &bucket{key: k}
		m.buckets[k] = b
		m.order = append(m.order, b)
	}
	return b
}

// Enqueue puts request r at the end of its bucket's queue, or at its head
// when r is the retry of a request the model answered Throttled with retry
// (it has waited its turn already, and keeps its first queueing time so its
// wait stays bounded across attempts).
func (m *Model) Enqueue(now time.Time, r Request) Ticket {
	now = m.at(now)
	for k, mks := range m.retries {
		mks = slices.DeleteFunc(mks, func(mk retryMark) bool { return now.Sub(mk.at) > retryMemory })
		if len(mks) == 0 {
			delete(m.retries, k)
		} else {
			m.retries[k] = mks
		}
	}
	b := m.bucket(r.Bucket)
	m.last++
	e := &entry{t: m.last, req: r, b: b, input: r.Input, hold: HoldOf(r, r.Input), since: now}
	m.entries[e.t] = e
	if mks := m.retries[r]; len(mks) > 0 {
		mk := mks[0]
		if len(mks) == 1 {
			delete(m.retries, r)
		} else {
			m.retries[r] = mks[1:]
		}
		e.attempt, e.since = mk.attempt, mk.since
		// After the retries already at the head: they keep their order.
		i := slices.IndexFunc(b.queue, func(o *entry) bool { return o.attempt == 0 })
		if i < 0 {
			i = len(b.queue)
		}
		b.queue = slices.Insert(b.queue, i, e)
	} else {
		b.queue = append(b.queue, e)
	}
	return e.t
}

// refresh brings a bucket to time now: its limits asked again, the window
// and the starts pruned, the learned limit raised for each quiet minute,
// and a lower limit another session learned adopted.
func (m *Model) refresh(b *bucket, now time.Time, others []State) {
	b.limits = m.limits(b.key)
	cutoff := now.Add(-Window).UnixMilli()
	b.window = prune(b.window, cutoff)
	b.starts = prune(b.starts, cutoff)
	if d := day(now); d != b.day {
		b.day, b.absorbed, b.passed = d, 0, 0
	}
	q := b.limits.TokensPerMinute
	b.raise(now, q)
	b.adopt(now, q, others)
}

// raise brings a learned limit to now under quota q (0: unknown): raised
// for each quiet minute since it last moved, forgotten once it reaches
// the quota or, when no quota is known, forgetAfter minutes after its
// last cut.
func (l *learning) raise(now time.Time, q int) {
	if l.learned == 0 {
		return
	}
	minutes := int(now.Sub(l.changed) / Window)
	switch {
	case minutes <= 0:
		return
	case q == 0 && now.Sub(l.cut) >= forgetAfter*Window:
		l.learned = 0
		return
	case q > 0:
		l.learned += minutes * max(q/raiseDen, 1)
	default:
		for range minutes {
			l.learned += max(l.learned/raiseDen, 1)
		}
	}
	l.changed = l.changed.Add(time.Duration(minutes) * Window)
	if q > 0 && l.learned >= q {
		l.learned = 0
	}
}

// adopt takes on the lowest limit the other sessions learned for the
// bucket when it is lower than the bucket's own, with the times it moved
// and was cut: a limit outlives the session that learned it (its state
// goes with it), and rises and is forgotten here as it would have there.
// Each is brought to now first: a session with nothing to do publishes
// nothing new, and its limit of minutes ago would hold the others down.
func (b *bucket) adopt(now time.Time, q int, others []State) {
	for _, st := range others {
		for i := range st.Buckets {
			o := &st.Buckets[i]
			if o.Bucket != b.key || o.Learned <= 0 {
				continue
			}
			l := o.learning(now)
			l.raise(now, q)
			if l.learned > 0 && (q == 0 || l.learned < q) && (b.learned == 0 || l.learned < b.learned) {
				if l.cut.Before(b.cut) {
					l.cut = b.cut // its own later cut still ends a burst
				}
				b.learning = l
			}
		}
	}
}

// learning is the limit o learned as it was when published. A state of
// an older claude-bedrock, which does not say when its limit last moved,
// counts its last cut for that; one that says neither counts as moved at
// now and never cut.
func (o *BucketState) learning(now time.Time) learning {
	l := learning{learned: o.Learned, changed: now}
	if o.Cut != 0 {
		l.cut = time.UnixMilli(o.Cut)
		l.changed = l.cut
	}
	if o.Changed != 0 {
		l.changed = time.UnixMilli(o.Changed)
	}
	return l
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// limit is the bucket's own effective tokens-per-minute limit: the quota,
// or the learned limit when lower; 0 when neither is known.
func (b *bucket) limit() int {
	q := b.limits.TokensPerMinute
	if b.learned > 0 && (q == 0 || b.learned < q) {
		return b.learned
	}
	return q
}

// load is what the bucket carries at one moment, this session's and the
// others' together.
type load struct {
	held, inflight, used, starts int
	limit                        int
}

// stalledAfter is how old another session's state must be for its
// waiting requests to be taken for stalled: a session with requests
// waiting publishes at least at each poll of the ledger (DefaultPoll), so
// one silent that long is stopped (Ctrl-Z, a debugger).
const stalledAfter = 10 * time.Second

// loadOf sums the bucket's own load and the other sessions' at now, and
// the holds of other sessions' queue heads waiting since before since
// (they go first: no session overtakes another's older request), unless
// that session is stalled: its head would otherwise hold the others back
// for as long as it is stopped.
func (m *Model) loadOf(b *bucket, now time.Time, others []State, since time.Time) load {
	cutoff := now.Add(-Window).UnixMilli()
	l := load{held: b.held, inflight: b.inflight, used: sumSince(b.window, cutoff), starts: sumSince(b.starts, cutoff), limit: b.limit()}
	for _, st := range others {
		for i := range st.Buckets {
			o := &st.Buckets[i]
			if o.Bucket != b.key {
				continue
			}
			l.held += o.Held
			l.inflight += o.InFlight
			l.used += sumSince(o.Window, cutoff)
			l.starts += sumSince(o.Starts, cutoff)
			if o.Waiting > 0 && !since.IsZero() && o.HeadSince < since.UnixMilli() && now.Sub(st.Time) < stalledAfter {
				l.held += o.HeadHold
			}
		}
	}
	return l
}

// Admit admits, at now, every queued request that may go: probes at once,
// then each bucket's queue from its head while the head fits (or is alone,
// or has waited MaxWait). others are the other sessions' states on this
// machine, which share the budget.
func (m *Model) Admit(now time.Time, others []State) []Admitted {
	now = m.at(now)
	var out []Admitted
	for _, b := range m.order {
		if len(b.queue) == 0 {
			continue
		}
		m.refresh(b, now, others)
		rest := b.queue[:0]
		for _, e := range b.queue {
			if e.req.Probe {
				l := m.loadOf(b, now, others, time.Time{})
				out = append(out, m.admit(e, now, Probe, l))
				continue
			}
			rest = append(rest, e)
		}
		clear(b.queue[len(rest):])
		b.queue = rest
		for len(b.queue) > 0 {
			e := b.queue[0]
			l := m.loadOf(b, now, others, e.since)
			why, ok := m.decide(e, l, now)
			if !ok {
				break
			}
			b.queue[0] = nil
			b.queue = b.queue[1:]
			out = append(out, m.admit(e, now, why, l))
		}
	}
	return out
}

// decide is the admission rule for a queue head under load l.
func (m *Model) decide(e *entry, l load, now time.Time) (Why, bool) {
	rpm := e.b.limits.RequestsPerMinute
	fitsT := l.limit == 0 || l.held+l.used+e.hold <= l.limit
	fitsR := rpm == 0 || l.starts < rpm
	switch {
	case fitsT && fitsR:
		return Fit, true
	case fitsR && e.hold > l.limit && l.inflight == 0:
		return Alone, true
	case now.Sub(e.since) >= m.maxWait:
		return MaxWait, true
	}
	return 0, false
}

func (m *Model) admit(e *entry, now time.Time, why Why, l load) Admitted {
	b := e.b
	for _, o := range m.entries {
		if o.admitted && o.b == b {
			o.alone = false
		}
	}
	e.admitted, e.at, e.why = true, now, why
	e.alone = l.inflight == 0
	b.held += e.hold
	b.inflight++
	b.starts = tally(b.starts, now.UnixMilli(), 1)
	return Admitted{Ticket: e.t, Why: why, Hold: e.hold, Load: l.held + l.used, Limit: l.limit}
}

// Started replaces ticket t's estimated input with the real count; its
// hold follows.
func (m *Model) Started(t Ticket, input int) {
	e := m.entries[t]
	if e == nil {
		return
	}
	hold := HoldOf(e.req, input)
	if e.admitted {
		e.b.held += hold - e.hold
	}
	e.input, e.hold = input, hold
}

// release takes an admitted request's hold off its bucket and forgets it.
func (m *Model) release(e *entry) {
	if e.admitted {
		e.b.held -= e.hold
		e.b.inflight--
	}
	delete(m.entries, e.t)
}

// Cancel forgets ticket t: a waiter leaves its queue, an admitted request
// releases its hold without settling (it never reached Bedrock).
func (m *Model) Cancel(t Ticket) {
	e := m.entries[t]
	if e == nil {
		return
	}
	if !e.admitted {
		e.b.queue = slices.DeleteFunc(e.b.queue, func(o *entry) bool { return o == e })
	}
	m.release(e)
}

// Throttled records Bedrock's 429 for ticket t at now and releases its
// hold. A 429 the model did not predict (the request was admitted as
// fitting) cuts the bucket's limit to 0.7x what it was, or of the load
// (all sessions', the request's own hold still in it) when that was lower,
// never below the request's own hold. Not of the load admitted with the
// request: a request admitted later may reach Bedrock first, so only what
// was in flight when the 429 came back bounds what Bedrock took for too
// much. One burst of 429s cuts once: a request admitted before the
// bucket's last cut, by this session or another (others must be read
// after the cuts the other sessions made, under the ledger's lock), does
// not cut again, since it was sent under the old limit; nor does one
// admitted in the same millisecond as the cut (the states keep
// milliseconds, and a decision and a 429 of two sessions often fall
// together). It answers whether the request should be queued again: not
// when its retries are spent, nor for a probe, nor when it was alone in
// flight (then the cap itself does not fit the quota and waiting cannot
// help). A retry is known by its Request: the next Enqueue of a Request
// equal to this one's (as first enqueued, before Started) takes the head
// of the queue as its next attempt.
func (m *Model) Throttled(now time.Time, t Ticket, others []State) (retry bool) {
	now = m.at(now)
	e := m.entries[t]
	if e == nil || !e.admitted {
		return false
	}
	b := e.b
	m.refresh(b, now, others)
	l := m.loadOf(b, now, others, time.Time{})
	if e.why == Fit && e.at.UnixMilli() > lastCut(b, others) {
		base := l.held + l.used
		if l.limit > 0 && l.limit < base {
			base = l.limit
		}
		b.learned = max(base*cutNum/cutDen, e.hold, 1)
		b.changed, b.cut = now, now
	}
	alone := e.alone && l.inflight == 1
	m.release(e)
	// A probe's 429 goes on too: Claude Code does not retry its probes
	// and carries on without them; sent again it would only cost time.
	if alone || e.req.Probe || e.attempt >= Retries {
		b.passed++
		return false
	}
	b.absorbed++
	m.retries[e.req] = append(m.retries[e.req], retryMark{attempt: e.attempt + 1, since: e.since, at: now})
	return true
}

// lastCut is when the bucket's limit was last cut, by this session or
// another (Unix ms).
func lastCut(b *bucket, others []State) int64 {
	cut := b.cut.UnixMilli()
	if b.cut.IsZero() {
		cut = 0
	}
	for _, st := range others {
		for i := range st.Buckets {
			if o := &st.Buckets[i]; o.Bucket == b.key {
				cut = max(cut, o.Cut)
			}
		}
	}
	return cut
}

// Settled is what a finished request counts against its bucket's window:
// input + cache writes + burndown x output; cache reads are free.
func Settled(u Usage, bd int) int {
	return quota.Settled(min(max(u.Input, 0), maxInput), min(max(u.CacheWrite, 0), maxInput), min(max(u.Output, 0), maxMaxTokens), burndown(bd))
}

// Done settles ticket t at now to what it used and releases its hold; a
// second Done, or one after Throttled or Cancel, changes nothing. A usage
// with no tokens at all (the answer never said) settles to the input known
// when the request succeeded, to nothing when it failed. status 429 is
// taken as Throttled with no retry (the 429 went on to claude), and what
// the answer had used still settles (a throttlingException that ended a
// stream after it started).
func (m *Model) Done(now time.Time, t Ticket, u Usage, status int, others []State) {
	now = m.at(now)
	e := m.entries[t]
	if e == nil || !e.admitted {
		return
	}
	if status == 429 {
		e.attempt = Retries
		m.Throttled(now, t, others)
		if n := Settled(u, e.req.Burndown); n > 0 {
			e.b.window = tally(e.b.window, now.UnixMilli(), n)
		}
		return
	}
	if u == (Usage{}) && status/100 == 2 {
		u.Input = e.input
	}
	m.release(e)
	b := e.b
	m.refresh(b, now, others)
	if n := Settled(u, e.req.Burndown); n > 0 {
		b.window = tally(b.window, now.UnixMilli(), n)
	}
}

// Waiting returns how many requests wait in all queues.
func (m *Model) Waiting() int {
	n := 0
	for _, b := range m.order {
		n += len(b.queue)
	}
	return n
}

// Wake returns the next time at which Admit could admit a waiting request
// without any other event (a request ending, a session's state changing):
// when a settled spend or a start leaves the window, a learned limit rises,
// or a head's wait reaches MaxWait. ok is false when nothing waits.
func (m *Model) Wake(now time.Time, others []State) (t time.Time, ok bool) {
	now = m.at(now)
	earliest := func(c time.Time) {
		if !c.After(now) {
			c = now
		}
		if !ok || c.Before(t) {
			t, ok = c, true
		}
	}
	for _, b := range m.order {
		if len(b.queue) == 0 {
			continue
		}
		m.refresh(b, now, others)
		earliest(b.queue[0].since.Add(m.maxWait))
		if len(b.window) > 0 {
			earliest(time.UnixMilli(b.window[0].At).Add(Window))
		}
		if len(b.starts) > 0 && b.limits.RequestsPerMinute > 0 {
			earliest(time.UnixMilli(b.starts[0].At).Add(Window))
		}
		if b.learned > 0 {
			earliest(b.changed.Add(Window))
		}
		cutoff := now.Add(-Window).UnixMilli()
		for _, st := range others {
			for i := range st.Buckets {
				o := &st.Buckets[i]
				if o.Bucket != b.key {
					continue
				}
				for _, s := range o.Window {
					if s.At > cutoff {
						earliest(time.UnixMilli(s.At).Add(Window))
						break
					}
				}
			}
		}
	}
	return t, ok
}

// LargestCap returns the largest output cap (max_tokens, rounded down like
// quota.Recommend) with which one request of input tokens fits the limit
// the model knows for bucket b at now, alone; ok is false when no limit is
// known. What an offer proposes after a 429 the governor passed on.
func (m *Model) LargestCap(now time.Time, b Bucket, input, bd int, others []State) (capTokens int, ok bool) {
	now = m.at(now)
	bk := m.bucket(b)
	m.refresh(bk, now, others)
	return largestCap(m.loadOf(bk, now, others, time.Time{}).limit, input, bd)
}

func largestCap(limit, input, bd int) (int, bool) {
	if limit <= 0 {
		return 0, false
	}
	return quota.Recommend(limit, 1, input, burndown(bd), 0).Cap, true
}
