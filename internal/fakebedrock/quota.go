package fakebedrock

import (
	"sync"
	"time"
)

// Quota is a per-minute quota like Bedrock's, metered separately for each
// model ID (each inference profile has its own at Bedrock).
//
// A request holds, from its start, its input plus the reservation for its
// max_tokens (see Reservation) while it streams; when its answer ends, that
// hold becomes what it used, input + Burndown × output, counted in a window
// sliding over the last Window. A new request is throttled with Bedrock's
// 429 "Too many tokens" when what is held, plus what the window used, plus
// its own hold, is over TokensPerMinute (and with "Too many requests" when
// RequestsPerMinute requests already started in the window).
type Quota struct {
	// TokensPerMinute is the token quota (0: none).
	TokensPerMinute int
	// RequestsPerMinute is the request quota (0: none).
	RequestsPerMinute int
	// Burndown is how many times each output token counts (0 means 1;
	// Anthropic models up to version 4.7 count 5).
	Burndown int
	// Reservation is how max_tokens is held while a request runs.
	Reservation Reservation
	// Window is the length of the sliding window (0: one minute).
	Window time.Duration
}

// Reservation says how a request's max_tokens counts while it runs: public
// sources disagree, so a test can pick either reading.
type Reservation int

const (
	// HoldBurndown holds input + Burndown × max_tokens: the stricter reading.
	HoldBurndown Reservation = iota
	// HoldMaxTokens holds input + max_tokens.
	HoldMaxTokens
)

// WithQuota meters every model under q.
func WithQuota(q Quota) Option { return func(c *config) { c.quota = &q } }

// SetQuota changes the quota from the next request on (what is held and used
// so far stays counted); a zero Quota turns metering off.
func (s *Server) SetQuota(q Quota) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q == (Quota{}) {
		s.quota = nil
		return
	}
	s.quota = &q
}

// hold is what a request of input tokens and max_tokens holds under q.
func (q Quota) hold(input, maxTokens int) int {
	if q.Reservation == HoldMaxTokens {
		return input + maxTokens
	}
	return input + q.burndown()*maxTokens
}

func (q Quota) burndown() int { return max(1, q.Burndown) }

func (q Quota) window() time.Duration {
	if q.Window > 0 {
		return q.Window
	}
	return time.Minute
}

// ledger is one model's account: what is held now, what was used and which
// requests started within the window.
type ledger struct {
	holds  map[int]int // by request sequence number
	used   []spent
	starts []time.Time
}

type spent struct {
	at     time.Time
	tokens int
}

// expire forgets what left the window ending at now.
func (l *ledger) expire(now time.Time, window time.Duration) {
	cut := now.Add(-window)
	i := 0
	for i < len(l.used) && !l.used[i].at.After(cut) {
		i++
	}
	l.used = l.used[i:]
	j := 0
	for j < len(l.starts) && !l.starts[j].After(cut) {
		j++
	}
	l.starts = l.starts[j:]
}

func (l *ledger) held() int {
	n := 0
	for _, h := range l.holds {
		n += h
	}
	return n
}

func (l *ledger) spentTokens() int {
	n := 0
	for _, u := range l.used {
		n += u.tokens
	}
	return n
}

// ledger returns model's ledger, creating it; s.mu is held.
func (s *Server) ledger(model string) *ledger {
	l := s.ledgers[model]
	if l == nil {
		l = &ledger{holds: map[int]int{}}
		s.ledgers[model] = l
	}
	return l
}

// admit places request seq's hold on its model's quota, or answers which
// throttling refuses it. Without a quota everything is admitted.
func (s *Server) admit(seq int, rec Request) (hold int, refused Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quota == nil {
		return 0, None
	}
	q := *s.quota
	now := s.now()
	l := s.ledger(rec.Model)
	l.expire(now, q.window())
	if q.RequestsPerMinute > 0 && len(l.starts) >= q.RequestsPerMinute {
		return 0, TooManyRequests
	}
	hold = q.hold(rec.InputTokens, rec.MaxTokens)
	if q.TokensPerMinute > 0 && l.held()+l.spentTokens()+hold > q.TokensPerMinute {
		return 0, TooManyTokens
	}
	l.holds[seq] = hold
	l.starts = append(l.starts, now)
	return hold, None
}

// settle turns request seq's hold into what it used, at the end of its answer.
func (s *Server) settle(seq int, model string, input, output int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.ledgers[model]
	if l == nil {
		return
	}
	if _, ok := l.holds[seq]; !ok {
		return
	}
	delete(l.holds, seq)
	burndown := 1
	if s.quota != nil {
		burndown = s.quota.burndown()
	}
	l.used = append(l.used, spent{s.now(), input + burndown*output})
	s.wake()
}

// QuotaUse is one model's account at a moment.
type QuotaUse struct {
	// Held is what requests in flight hold, InFlight how many they are.
	Held, InFlight int
	// Used is what finished requests used within the window, Requests how
	// many requests started within it.
	Used, Requests int
}

// QuotaUse returns model's account now (by the fake's clock).
func (s *Server) QuotaUse(model string) QuotaUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.ledgers[model]
	if l == nil {
		return QuotaUse{}
	}
	window := time.Minute
	if s.quota != nil {
		window = s.quota.window()
	}
	l.expire(s.now(), window)
	return QuotaUse{Held: l.held(), InFlight: len(l.holds), Used: l.spentTokens(), Requests: len(l.starts)}
}

// Occupy uses tokens of model's quota as another client of the same account
// would: held from now until release is called, then counted as used in the
// window from that moment. release may be called more than once. To hold for
// a while: time.AfterFunc(d, s.Occupy(model, tokens)).
func (s *Server) Occupy(model string, tokens int) (release func()) {
	s.mu.Lock()
	s.msgSeq++
	seq := s.msgSeq
	l := s.ledger(model)
	l.holds[seq] = tokens
	l.starts = append(l.starts, s.now())
	s.wake()
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() { s.settle(seq, model, tokens, 0) })
	}
}
