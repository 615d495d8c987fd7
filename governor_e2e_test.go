package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
)

// The end-to-end tests of the governor: the real pinned Claude Code, the
// real launcher and the real gateway process (claude-bedrock-doctor
// +gateway), against a fake Bedrock that requires SigV4 and meters a
// per-minute quota holding each answer's reservation while it streams.

// The quota world's figures. A `claude -p` turn's body is about 21,850
// input tokens by the fake's estimate; at cap 8192 with burndown 5 it holds
// about 21,850 + 5 × 8192 = 62,810 while it streams, so a 200,000 TPM quota
// fits three at a time.
const (
	e2eTPM      = 200000
	e2eCap      = 8192
	e2eBurndown = 5 // the models table's for Sonnet 4.5
	e2eChunks   = 4
	e2eChunk    = time.Second // so an answer streams for about 4 s
	e2eRegion   = "us-east-1"
	e2eKeyID    = "AKIDE2EGOVERNORTEST1"
	e2eSecret   = "e2e-governor-secret-key-not-a-real-one"
)

// quotaWorld is the real Claude Code behind the real launcher and its real
// gateway, a fake Bedrock requiring SigV4 under a per-minute quota, and a
// throw-away HOME, XDG folders and TMPDIR.
type quotaWorld struct {
	fake                            *fakebedrock.Server
	bin                             string // the launcher, with the real claude-bedrock-doctor beside it
	env                             []string
	dir, home, tmp, runtime, config string
	state                           string // $XDG_STATE_HOME
}

func newQuotaWorld(t *testing.T, reply string, extraConfig string, opts ...fakebedrock.Option) *quotaWorld {
	t.Helper()
	fake := fakebedrock.New(t, append([]fakebedrock.Option{
		fakebedrock.WithSigV4(e2eRegion, fakebedrock.Key{AccessKeyID: e2eKeyID, SecretAccessKey: e2eSecret}),
		fakebedrock.WithQuota(fakebedrock.Quota{TokensPerMinute: e2eTPM, Burndown: e2eBurndown, Reservation: fakebedrock.HoldBurndown}),
		fakebedrock.WithBehavior(fakebedrock.Behavior{Reply: reply, Chunks: e2eChunks, ChunkDelay: e2eChunk})}, opts...)...)
	w := &quotaWorld{fake: fake, bin: realGovernedLauncher(t), dir: t.TempDir(), tmp: t.TempDir(), runtime: t.TempDir()}
	w.home = claudetest.Home(t, w.dir)
	w.state = filepath.Join(w.home, ".state")
	w.config = filepath.Join(w.home, ".config")
	var env []string
	for _, kv := range claudetest.Env(w.home, fake.URL(), e2eRegion) {
		if !strings.HasPrefix(kv, "CLAUDE_CODE_SKIP_BEDROCK_AUTH=") { // claude alone signs, as the gateway does
			env = append(env, kv)
		}
	}
	w.env = append(env, "CLAUDE_BEDROCK_CLAUDE="+claudetest.Binary(t),
		"AWS_ACCESS_KEY_ID="+e2eKeyID, "AWS_SECRET_ACCESS_KEY="+e2eSecret, "AWS_EC2_METADATA_DISABLED=true",
		"CLAUDE_CODE_MAX_RETRIES=1",
		"TMPDIR="+w.tmp, "XDG_RUNTIME_DIR="+w.runtime, "XDG_STATE_HOME="+w.state,
		"XDG_CONFIG_HOME="+w.config, "XDG_CACHE_HOME="+filepath.Join(w.home, ".cache"))
	writeFile(t, filepath.Join(w.config, "claude-bedrock/config.toml"),
		"[profiles.code]\nmodel = \"sonnet\"\nregion = \""+e2eRegion+"\"\nmax_output_tokens = 8192\ntokens_per_minute = 200000\n"+extraConfig)
	return w
}

// realGovernedLauncher returns a launcher binary whose claude-bedrock-doctor
// is the real one (built into real/ by TestMain), not the fake gateway.
func realGovernedLauncher(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "claude-bedrock")
	if err := os.Link(launcherBin, bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(filepath.Dir(launcherBin), "real", doctorName), filepath.Join(dir, doctorName)); err != nil {
		t.Fatal(err)
	}
	return bin
}

// session is one `claude-bedrock -p` run.
type session struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	code           int
	end            time.Time
}

func (w *quotaWorld) start(t *testing.T, prompt string) *session {
	t.Helper()
	s := &session{cmd: exec.Command(w.bin, "-p", prompt)}
	s.cmd.Env, s.cmd.Dir = w.env, w.dir
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill() }) // after Wait: nothing
	return s
}

func (s *session) wait(t *testing.T) {
	t.Helper()
	s.code = waitCmd(t, s.cmd, 120*time.Second)
	s.end = time.Now()
}

// usageLines reads usage.jsonl.
func (w *quotaWorld) usageLines(t *testing.T) (raw []byte, recs []map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(w.state, "claude-bedrock", "usage.jsonl"))
	if err != nil {
		t.Fatalf("usage.jsonl: %v", err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("usage.jsonl: %v: %q", err, line)
		}
		recs = append(recs, m)
	}
	return raw, recs
}

// throttledText is what `claude -p` prints when Bedrock's 429 reached it.
const throttledText = "API Error: Request rejected (429) · Too many tokens"

// runSessions starts n `claude-bedrock -p` sessions at once and waits for
// them all.
func (w *quotaWorld) runSessions(t *testing.T, n int, prompt string) []*session {
	t.Helper()
	ss := make([]*session, n)
	for i := range ss {
		ss[i] = w.start(t, prompt)
	}
	for _, s := range ss {
		s.wait(t)
	}
	return ss
}

// turnsOf are the usage records of the turns (the probes have max_tokens 1).
func turnsOf(recs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["max_tokens"].(float64) == e2eCap {
			out = append(out, r)
		}
	}
	return out
}

// quotaMakespan is how long the quota itself needs for turns arriving at
// the given offsets, in order, each holding hold tokens while it streams
// for d and then using use tokens for the rest of the minute (all of this
// test's run), when each starts as soon as it fits under limit, first come
// first served: the schedule a perfect governor would keep.
func quotaMakespan(arrivals []time.Duration, hold, use, limit int, d time.Duration) time.Duration {
	var ends []time.Duration
	t := time.Duration(0)
	fits := func(at time.Duration) bool {
		used := hold
		for _, e := range ends {
			if e <= at {
				used += use
			} else {
				used += hold
			}
		}
		return used <= limit
	}
	for _, a := range arrivals {
		t = max(t, a)
		for !fits(t) {
			next := time.Duration(-1)
			for _, e := range ends {
				if e > t && (next < 0 || e < next) {
					next = e
				}
			}
			if next < 0 {
				return -1 // never fits: the window would have to pass
			}
			t = next
		}
		ends = append(ends, t+d)
	}
	last := time.Duration(0)
	for _, e := range ends {
		last = max(last, e)
	}
	return last
}

func TestQuotaMakespan(t *testing.T) {
	d := 4 * time.Second
	// Six turns at once under the e2e quota: three fit, then what the first
	// three used leaves room for two, then for one.
	if got := quotaMakespan(make([]time.Duration, 6), 62827, 21900, e2eTPM, d); got != 3*d {
		t.Errorf("six at once: %v, want %v", got, 3*d)
	}
	if got := quotaMakespan([]time.Duration{0, 0, 0, 5 * time.Second}, 62827, 21900, e2eTPM, d); got != 9*time.Second {
		t.Errorf("a late fourth: %v, want 9s", got)
	}
	if got := quotaMakespan(make([]time.Duration, 2), 150000, 150000, e2eTPM, d); got != -1 {
		t.Errorf("two that never fit together: %v, want -1", got)
	}
}

// TestGovernorE2EQuota: six `claude-bedrock -p` sessions at once whose
// reservations together are three times the quota. Without the governor
// some fail with Bedrock's 429; with it all are answered, no 429 reaches
// claude, in at most 1.5 times what the quota itself allows.
func TestGovernorE2EQuota(t *testing.T) {
	const n = 6
	const reply = "Answer streamed slowly under the quota."
	t.Run("control: governor = false", func(t *testing.T) {
		w := newQuotaWorld(t, reply, "governor = false\n")
		ss := w.runSessions(t, n, "hi")
		failed := 0
		for _, s := range ss {
			switch {
			case s.code == 0 && strings.Contains(s.stdout.String(), reply):
			case s.code == 1 && strings.Contains(s.stdout.String(), throttledText):
				failed++
			default:
				t.Errorf("exit %d, stdout %q, stderr %q; want the reply or the 429", s.code, s.stdout.String(), s.stderr.String())
			}
		}
		if failed == 0 {
			t.Errorf("no session failed with a 429: the control run proves nothing\n%s", fakebedrock.Summary(w.fake.Turns()))
		}
		if _, err := os.Stat(filepath.Join(w.state, "claude-bedrock", "usage.jsonl")); err == nil {
			t.Errorf("usage.jsonl written with governor = false: a gateway ran")
		}
		t.Logf("%d of %d sessions failed with a 429", failed, n)
	})
	t.Run("governor", func(t *testing.T) {
		w := newQuotaWorld(t, reply, "")
		w.checkPaced(t, w.runSessions(t, n, "hi"), reply)
	})
}

// checkPaced checks a governed run of sessions: each answered reply, with
// nothing on stderr; what checkGoverned checks; and, from the first turn's
// arrival at a gateway to the last session's end, at most 1.5 times the
// schedule the fake's quota allows for the turns as they arrived. It
// returns the arrivals (offsets from the first, in order) and the most a
// turn held at the fake.
func (w *quotaWorld) checkPaced(t *testing.T, ss []*session, reply string) (arrivals []time.Duration, hold int) {
	t.Helper()
	last := time.Time{}
	for _, s := range ss {
		if s.code != 0 || !strings.Contains(s.stdout.String(), reply) || s.stderr.String() != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, the reply, nothing", s.code, s.stdout.String(), s.stderr.String())
		}
		if s.end.After(last) {
			last = s.end
		}
	}
	recs := w.checkGoverned(t, len(ss))
	arrivals, first := turnArrivals(t, recs)
	use := 0
	for _, r := range w.fake.Turns() {
		hold = max(hold, r.Held)
		use = max(use, r.InputTokens+e2eBurndown*r.OutputTokens)
	}
	ideal := quotaMakespan(arrivals, hold, use, e2eTPM, e2eChunks*e2eChunk)
	took := last.Sub(first)
	t.Logf("turns arrived over %v; the quota allows them in %v; the sessions took %v (%.2fx)", arrivals[len(arrivals)-1], ideal, took, float64(took)/float64(ideal))
	if ideal <= 0 || took > ideal*3/2 {
		t.Errorf("the sessions took %v from the first turn; the quota allows %v (hold %d, use %d), at most 1.5x that: %v\n%s",
			took, ideal, hold, use, ideal*3/2, fakebedrock.Summary(w.fake.Turns()))
	}
	return arrivals, hold
}

// turnArrivals returns when the turns reached a gateway, as offsets from
// the first, in order, and the first's time.
func turnArrivals(t *testing.T, recs []map[string]any) ([]time.Duration, time.Time) {
	t.Helper()
	var ats []time.Time
	for _, r := range turnsOf(recs) {
		at, err := time.Parse(time.RFC3339Nano, r["time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		ats = append(ats, at)
	}
	slices.SortFunc(ats, time.Time.Compare)
	var arrivals []time.Duration
	for _, at := range ats {
		arrivals = append(arrivals, at.Sub(ats[0]))
	}
	return arrivals, ats[0]
}

// checkGoverned checks what a governed run of n sessions left: every turn
// answered, no 429 passed to claude, the fake's 429s all absorbed by the
// gateway, usage.jsonl with one line per request claude sent. It returns
// the usage records.
func (w *quotaWorld) checkGoverned(t *testing.T, n int) []map[string]any {
	t.Helper()
	_, recs := w.usageLines(t)
	absorbed, ok := 0, 0
	for _, r := range recs {
		if r["status"].(float64) != 200 {
			t.Errorf("usage record with status %v: claude got it", r["status"])
		}
		if v, has := r["retries"]; has {
			absorbed += int(v.(float64))
		}
	}
	throttled := 0
	for _, r := range w.fake.Requests() {
		switch {
		case r.Teammate || r.Op == "inference-profiles":
		case r.Status == 429:
			throttled++
		case r.Status == 200:
			ok++
		default:
			t.Errorf("the fake answered %d: %+v", r.Status, r)
		}
	}
	if throttled != absorbed {
		t.Errorf("the fake throttled %d of the sessions' requests, the gateways absorbed %d", throttled, absorbed)
	}
	if len(recs) != ok {
		t.Errorf("usage.jsonl has %d lines; the fake answered %d of the sessions' requests", len(recs), ok)
	}
	if got := len(turnsOf(recs)); got != n {
		t.Errorf("usage.jsonl has %d turns, want %d", got, n)
	}
	if t.Failed() {
		raw, _ := w.usageLines(t)
		t.Logf("usage.jsonl:\n%s\nthe fake:\n%s", raw, fakebedrock.Summary(w.fake.Requests()))
	} else {
		t.Logf("the fake throttled %d requests, all absorbed", throttled)
	}
	return recs
}

// TestGovernorE2ESecurity: the real gateway refuses requests without the
// session's token (401, nothing upstream), listens on 127.0.0.1 only; the
// token is on no command line and, after the run, in no file; usage.jsonl
// has one line per request and no prompt or answer text.
func TestGovernorE2ESecurity(t *testing.T) {
	const (
		prompt = "Tell me about the marmalade zeppelin 7731"
		reply  = "Quixotic pelicans 4419 juggle lanterns."
	)
	w := newQuotaWorld(t, reply, "")
	s := w.start(t, prompt)
	w.fake.WaitTurns(t, 1, 60*time.Second) // the turn streams for seconds: look at the session now

	var claudePID, gatewayPID int
	for _, pid := range children(t, s.cmd.Process.Pid) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)) // it may have ended
		if strings.HasSuffix(string(b), "\x00+gateway\x00") {
			gatewayPID = pid
		} else {
			claudePID = pid
		}
	}
	if claudePID == 0 || gatewayPID == 0 {
		t.Fatalf("the launcher's children: claude %d, gateway %d", claudePID, gatewayPID)
	}
	cenv := procEnv(t, claudePID)
	token, base := cenv[keyBearer], cenv[keyBaseURL]
	if len(token) < 22 || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("claude's %s has %d chars, %s=%q", keyBearer, len(token), keyBaseURL, base)
	}
	for _, pid := range []int{s.cmd.Process.Pid, claudePID, gatewayPID} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{token, e2eSecret} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("a secret is on the command line of pid %d: %q", pid, b)
			}
		}
	}
	if v, ok := procEnv(t, gatewayPID)[keyBearer]; ok {
		t.Errorf("the gateway's environment has %s (%d chars): the token travels on stdin only", keyBearer, len(v))
	}
	port, err := strconv.Atoi(strings.TrimPrefix(base, "http://127.0.0.1:"))
	if err != nil {
		t.Fatal(err)
	}
	if got := listenAddrs(t, port); len(got) != 1 || got[0] != "0100007F" {
		t.Errorf("the gateway's socket listens on %v; want 127.0.0.1 only (0100007F)", got)
	}

	// Requests without the session's token, to the model and to the
	// control plane: 401, and nothing reaches the fake.
	const probeModel = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	wrong := token[:len(token)-1] + "A" // one character off
	if strings.HasSuffix(token, "A") {
		wrong = token[:len(token)-1] + "B"
	}
	for _, tc := range []struct{ name, method, path, auth string }{
		{"no token", "POST", "/model/" + probeModel + "/invoke", ""},
		{"wrong token", "POST", "/model/" + probeModel + "/invoke-with-response-stream", "Bearer " + wrong},
		{"a SigV4 header", "POST", "/model/" + probeModel + "/invoke", "AWS4-HMAC-SHA256 Credential=" + e2eKeyID + "/20261202/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00"},
		{"the token without Bearer", "GET", "/inference-profiles", token},
		{"control plane, no token", "GET", "/inference-profiles?maxResults=1", ""},
	} {
		before := len(w.fake.Requests())
		req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{"max_tokens":1,"messages":[{"role":"user","content":"intruder"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_ = resp.Body.Close() // the status is the answer
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tc.name, resp.StatusCode)
		}
		for _, r := range w.fake.Requests()[before:] {
			if strings.Contains(fmt.Sprint(r.UserTexts), "intruder") || r.Op == "inference-profiles" {
				t.Errorf("%s reached the fake: %s %s", tc.name, r.Method, r.Path)
			}
		}
	}

	s.wait(t)
	if s.code != 0 || !strings.Contains(s.stdout.String(), reply) || s.stderr.String() != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", s.code, s.stdout.String(), s.stderr.String())
	}
	waitGone(t, gatewayPID, "the gateway after claude exited")
	roots := []string{w.home, w.dir, w.tmp, w.runtime, filepath.Dir(w.bin)}
	for _, secret := range []string{token, e2eSecret} {
		if f := filesHolding(t, secret, roots...); len(f) > 0 {
			t.Errorf("a secret (%d chars) is in files: %v", len(secret), f)
		}
	}
	raw, recs := w.usageLines(t)
	for _, text := range []string{"marmalade", "zeppelin", "7731", "Quixotic", "pelicans", "4419", "lanterns", "intruder", token} {
		if bytes.Contains(raw, []byte(text)) {
			t.Errorf("usage.jsonl holds %q:\n%s", text, raw)
		}
	}
	answered := 0
	for _, r := range w.fake.Requests() {
		if r.Op != "inference-profiles" && r.Status == 200 {
			answered++
		}
	}
	if len(recs) != answered || len(turnsOf(recs)) != 1 {
		t.Errorf("usage.jsonl has %d lines (%d turns); the fake answered %d model requests, one turn:\n%s", len(recs), len(turnsOf(recs)), answered, raw)
	}
}

// TestGovernorE2ETeammate: another client of the same account holds part
// of the quota directly on the fake while governed sessions run, unknown
// to the governor: the sessions all succeed still.
func TestGovernorE2ETeammate(t *testing.T) {
	const n = 4
	const reply = "Answer beside a teammate."
	w := newQuotaWorld(t, reply, "")
	// 40,000 of the 200,000 held by the teammate: the governor, which
	// thinks three turns fit, is throttled until it learns; only two fit.
	release := w.fake.Occupy("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 40000)
	ss := w.runSessions(t, n, "hi")
	release()
	for _, s := range ss {
		if s.code != 0 || !strings.Contains(s.stdout.String(), reply) || s.stderr.String() != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, the reply, nothing", s.code, s.stdout.String(), s.stderr.String())
		}
	}
	w.checkGoverned(t, n)
}

// TestGovernorE2EStatusLine: an interactive session in a terminal shows the
// launcher's status line with the quota use from the real gateway's
// snapshot, and more of it once a turn has been answered.
func TestGovernorE2EStatusLine(t *testing.T) {
	const reply = "Status line reply."
	w := newQuotaWorld(t, reply, "")
	w.fake.Update(func(b *fakebedrock.Behavior) { b.ChunkDelay = 0 }) // no waiting here
	cmd := exec.Command(w.bin)
	cmd.Env, cmd.Dir = w.env, w.dir
	term := ptytest.Start(t, cmd, 40, 120)
	line := regexp.MustCompile(`code · cap 8192 · quota (\d+)% of 200k/min · 0 waiting`)
	shows := func(min int) func(*ptytest.Screen) bool {
		return func(s *ptytest.Screen) bool {
			for _, m := range line.FindAllStringSubmatch(s.String(), -1) {
				if n, _ := strconv.Atoi(m[1]); n >= min {
					return true
				}
			}
			return false
		}
	}
	term.WaitForScreenState(t, "the status line with the gateway's quota", shows(0), 60*time.Second)
	term.Type("say hi", 20*time.Millisecond)
	term.Write("\r")
	term.WaitForScreen(t, reply, 60*time.Second)
	// The turn used about 21,900 of the 200,000: 10% or more. And the turn
	// has ended: a Ctrl-C now quits instead of interrupting it.
	term.WaitForScreenState(t, "the status line after the turn, claude idle", func(s *ptytest.Screen) bool {
		return shows(10)(s) && !s.Shows("esc to interrupt")
	}, 30*time.Second)
	quitClaude(t, term)
	if m := term.Mode(t); !m.Sane() {
		t.Errorf("terminal not restored: %+v", m)
	}
	if _, recs := w.usageLines(t); len(turnsOf(recs)) != 1 {
		t.Errorf("usage.jsonl has %d turns, want 1", len(turnsOf(recs)))
	}
}

// TestGovernorE2EGatewayKilledMidTurn: the gateway killed while claude's
// turn streams through it is started again on the same port, and claude's
// retry of the cut turn is answered through the new one.
func TestGovernorE2EGatewayKilledMidTurn(t *testing.T) {
	const reply = "Answer after the gateway came back."
	w := newQuotaWorld(t, reply, "")
	s := w.start(t, "hi")
	w.fake.WaitTurns(t, 1, 60*time.Second)
	first := gatewayOf(t, s.cmd.Process.Pid)
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.fake.WaitTurns(t, 2, 30*time.Second) // claude's retry, through the new gateway: still streaming
	if again := gatewayOf(t, s.cmd.Process.Pid); again == first {
		t.Errorf("the gateway's pid is still %d after it was killed", first)
	}
	s.wait(t)
	if s.code != 0 || !strings.Contains(s.stdout.String(), reply) || s.stderr.String() != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0, the reply, nothing\n%s", s.code, s.stdout.String(), s.stderr.String(), fakebedrock.Summary(w.fake.Requests()))
	}
	if turns := w.fake.Turns(); len(turns) < 2 {
		t.Errorf("%d turns at the fake, want the cut one and its retry:\n%s", len(turns), fakebedrock.Summary(w.fake.Requests()))
	}
}

// gatewayOf returns the pid of the launcher's gateway process.
func gatewayOf(t *testing.T, launcher int) int {
	t.Helper()
	for _, pid := range children(t, launcher) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)) // it may have ended
		if strings.HasSuffix(string(b), "\x00+gateway\x00") {
			return pid
		}
	}
	t.Fatalf("no gateway among the launcher's children %v", children(t, launcher))
	return 0
}

// TestGovernorE2ECredentialExport: with Claude Code's awsCredentialExport
// in the user's settings and no AWS credentials anywhere else, the gateway
// signs with the temporary credentials the command prints, session token
// included, as claude alone would.
func TestGovernorE2ECredentialExport(t *testing.T) {
	const reply = "Signed with exported credentials."
	temp := fakebedrock.Key{AccessKeyID: "ASIAE2EEXPORTEDKEY01", SecretAccessKey: "exported-secret-not-a-real-one", SessionToken: "exported-session-token"}
	w := newQuotaWorld(t, reply, "", fakebedrock.WithSigV4(e2eRegion, temp))
	w.fake.Update(func(b *fakebedrock.Behavior) { b.ChunkDelay = 0 })
	var env []string
	for _, kv := range w.env {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			env = append(env, kv)
		}
	}
	w.env = env
	creds, err := json.Marshal(map[string]any{"Credentials": map[string]any{"AccessKeyId": temp.AccessKeyID, "SecretAccessKey": temp.SecretAccessKey,
		"SessionToken": temp.SessionToken, "Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}})
	if err != nil {
		t.Fatal(err)
	}
	claudetest.WriteJSON(t, w.home, ".claude/settings.json", map[string]any{"awsCredentialExport": "echo '" + string(creds) + "'"})
	s := w.start(t, "hi")
	s.wait(t)
	if s.code != 0 || !strings.Contains(s.stdout.String(), reply) || s.stderr.String() != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0, the reply, nothing\n%s", s.code, s.stdout.String(), s.stderr.String(), fakebedrock.Summary(w.fake.Requests()))
	}
	for _, r := range w.fake.Requests() {
		if r.Auth != "sigv4" || r.AccessKeyID != temp.AccessKeyID || !r.SessionToken {
			t.Errorf("%s %s: auth %q with key %s, session token %v; want the exported credentials", r.Method, r.Path, r.Auth, r.AccessKeyID, r.SessionToken)
		}
	}
	if _, recs := w.usageLines(t); len(turnsOf(recs)) != 1 {
		t.Errorf("usage.jsonl has %d turns, want 1: the turn did not go through the gateway", len(turnsOf(recs)))
	}
}
