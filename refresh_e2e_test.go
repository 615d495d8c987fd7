package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
)

// The end-to-end test of awsAuthRefresh under the governor: the real pinned
// Claude Code, the real launcher and the real gateway process, against a
// fake Bedrock (and STS) that refuses an expired key as AWS does.

// The keys of the refresh world: the credentials file holds the one that
// expires until the refresh command copies the fresh one over it.
var (
	expiredKey = fakebedrock.Key{AccessKeyID: "AKIDE2EREFRESHOLD001", SecretAccessKey: "e2e-refresh-old-secret-not-a-real-one"}
	freshKey   = fakebedrock.Key{AccessKeyID: "AKIDE2EREFRESHNEW002", SecretAccessKey: "e2e-refresh-new-secret-not-a-real-one"}
)

// refreshWorld is a governed claude-bedrock whose AWS credentials, in a
// shared credentials file, expire: when it starts, or when the test says.
type refreshWorld struct {
	fake     *fakebedrock.Server
	bin, dir string
	env      []string
	marker   string // one line per run of the refresh command
	refresh  string // the refresh command
	state    string // $XDG_STATE_HOME
}

// refreshTakes is how long the refresh command takes: longer than Claude
// Code's own retries of a refused turn last (about 4 s, measured), as an
// `aws sso login` with its browser step does.
const refreshTakes = "6"

// refreshLine is what the refresh command prints.
const refreshLine = "Refreshing the AWS credentials"

// newRefreshWorld sets the world up; with refresh, ~/.claude/settings.json
// has an awsAuthRefresh that writes the fresh key into the credentials file
// (as `aws sso login` writes its token) after printing refreshLine and
// waiting refreshTakes seconds, and notes its run.
func newRefreshWorld(t *testing.T, refresh, expiredAtStart bool) *refreshWorld {
	t.Helper()
	opts := []fakebedrock.Option{fakebedrock.WithSigV4(e2eRegion, expiredKey, freshKey)}
	if expiredAtStart {
		opts = append(opts, fakebedrock.WithExpired(expiredKey.AccessKeyID))
	}
	fake := fakebedrock.New(t, opts...)
	w := &refreshWorld{fake: fake, bin: realGovernedLauncher(t), dir: t.TempDir()}
	home := claudetest.Home(t, w.dir)
	aws := filepath.Join(home, ".aws")
	ini := func(k fakebedrock.Key) string {
		return "[default]\naws_access_key_id = " + k.AccessKeyID + "\naws_secret_access_key = " + k.SecretAccessKey + "\n"
	}
	writeFile(t, filepath.Join(aws, "credentials"), ini(expiredKey))
	writeFile(t, filepath.Join(aws, "fresh"), ini(freshKey))
	writeFile(t, filepath.Join(aws, "config"), "[default]\nregion = "+e2eRegion+"\n")
	w.marker = filepath.Join(home, "refreshed")
	w.refresh = "echo " + refreshLine + " && sleep " + refreshTakes + " && cp " + filepath.Join(aws, "fresh") + " " +
		filepath.Join(aws, "credentials") + " && echo run >> " + w.marker
	if refresh {
		claudetest.WriteJSON(t, home, ".claude/settings.json", map[string]any{"awsAuthRefresh": w.refresh})
	}
	w.state = filepath.Join(home, ".state")
	for _, kv := range claudetest.Env(home, fake.URL(), e2eRegion) {
		// Claude talks to the gateway only; the gateway, and claude's own
		// STS check of the credentials, reach the fake by AWS_ENDPOINT_URL.
		if !strings.HasPrefix(kv, "CLAUDE_CODE_SKIP_BEDROCK_AUTH=") && !strings.HasPrefix(kv, "ANTHROPIC_BEDROCK_BASE_URL=") {
			w.env = append(w.env, kv)
		}
	}
	w.env = append(w.env, "CLAUDE_BEDROCK_CLAUDE="+claudetest.Binary(t), "AWS_ENDPOINT_URL="+fake.URL(),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(aws, "credentials"), "AWS_CONFIG_FILE="+filepath.Join(aws, "config"),
		"AWS_EC2_METADATA_DISABLED=true", "TMPDIR="+t.TempDir(), "XDG_RUNTIME_DIR="+t.TempDir(), "XDG_STATE_HOME="+w.state,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	writeFile(t, filepath.Join(home, ".config/claude-bedrock/config.toml"),
		"[profiles.code]\nmodel = \"sonnet\"\nregion = \""+e2eRegion+"\"\nmax_output_tokens = 8192\ntokens_per_minute = 200000\n")
	return w
}

// refreshedOnce checks that the refresh command ran exactly once.
func (w *refreshWorld) refreshedOnce(t *testing.T) {
	t.Helper()
	if runs, _ := os.ReadFile(w.marker); string(runs) != "run\n" {
		t.Errorf("awsAuthRefresh ran %d times, want once", strings.Count(string(runs), "run"))
	}
}

// run runs `claude-bedrock -p hi` to its end.
func (w *refreshWorld) run(t *testing.T) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(w.bin, "-p", "hi")
	cmd.Env, cmd.Dir = w.env, w.dir
	var o, e lockedBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code = waitCmd(t, cmd, 120*time.Second)
	return o.String(), e.String(), code
}

// TestRefreshE2EExpiredAtStart: the credentials have expired when a
// governed session starts, and the user's settings have awsAuthRefresh.
// Claude Code finds out (its own STS check) and runs the command once; the
// gateway holds the requests Bedrock refused until the command has written
// the fresh key, and signs them with it: the turn is answered, through the
// governor, and claude never saw a refusal.
func TestRefreshE2EExpiredAtStart(t *testing.T) {
	w := newRefreshWorld(t, true, true)
	stdout, stderr, code := w.run(t)
	reqs := w.fake.Requests()
	if code != 0 || !strings.Contains(stdout, fakebedrock.DefaultReply) {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\n%s", code, stdout, stderr, fakebedrock.Summary(reqs))
	}
	if strings.Contains(stderr, "governor off") {
		t.Errorf("the governor was off: %q", stderr)
	}
	w.refreshedOnce(t)
	var stsExpired, bedrockExpired, turns int
	for _, r := range reqs {
		switch {
		case r.Op == "sts" && r.AccessKeyID == expiredKey.AccessKeyID && r.Answer == "ExpiredToken":
			stsExpired++
		case r.Op == "sts":
		case r.Answer == fakebedrock.ExpiredToken:
			bedrockExpired++
		case r.Stream:
			turns++
			if r.AccessKeyID != freshKey.AccessKeyID || r.Status != 200 {
				t.Errorf("turn signed by %s answered %d; want the fresh key, 200", r.AccessKeyID, r.Status)
			}
		}
		if r.Op != "sts" && r.Header.Get("User-Agent") != "" && !r.Signed {
			t.Errorf("%s %s reached Bedrock unsigned: not through the gateway", r.Method, r.Path)
		}
	}
	if stsExpired == 0 || bedrockExpired == 0 || turns != 1 {
		t.Errorf("STS refusals of the expired key %d, Bedrock's %d, turns %d; want some, some, 1\n%s",
			stsExpired, bedrockExpired, turns, fakebedrock.Summary(reqs))
	}
	usage, err := os.ReadFile(filepath.Join(w.state, "claude-bedrock", "usage.jsonl"))
	if err != nil || !strings.Contains(string(usage), `"status":200`) {
		t.Errorf("usage.jsonl %q, %v: want the governed turn's record", usage, err)
	}
}

// TestRefreshE2EInteractive: in a terminal, the refresh command's output is
// on claude's screen while it runs (Claude Code shows it in a "Sign-in"
// box), and the first turn, held meanwhile, is answered through the
// governor.
func TestRefreshE2EInteractive(t *testing.T) {
	const reply = "Answered with the fresh key."
	w := newRefreshWorld(t, true, true)
	w.fake.SetReply(reply)
	cmd := exec.Command(w.bin)
	cmd.Env, cmd.Dir = w.env, w.dir
	term := ptytest.Start(t, cmd, 40, 120)
	term.WaitForScreen(t, refreshLine, 60*time.Second)
	term.Type("say hi", 20*time.Millisecond)
	term.Write("\r")
	term.WaitForScreen(t, reply, 90*time.Second)
	waitIdle(t, term)
	quitClaude(t, term)
	w.refreshedOnce(t)
	answered := 0
	for _, r := range w.fake.Turns() {
		if r.Status == 200 {
			answered++
			if r.AccessKeyID != freshKey.AccessKeyID {
				t.Errorf("a turn answered with %s, want the fresh key", r.AccessKeyID)
			}
		}
	}
	if answered != 1 {
		t.Errorf("%d turns answered, want 1:\n%s", answered, fakebedrock.Summary(w.fake.Requests()))
	}
}

// TestRefreshE2EMidSession: the credentials expire during an interactive
// session. Claude Code, talking to the gateway with its session token, does
// not run awsAuthRefresh by itself then (measured): the refused turn ends
// with its message naming the command. The user runs it in another terminal
// (its other remedy, /login's "refresh credentials", runs the same command
// from the TUI: measured, not driven here, its menus being a moving target),
// and the message sent again is answered through the same gateway, which
// signs it with the fresh key.
func TestRefreshE2EMidSession(t *testing.T) {
	w := newRefreshWorld(t, true, false)
	w.fake.SetReply("First answer.")
	cmd := exec.Command(w.bin)
	cmd.Env, cmd.Dir = w.env, w.dir
	term := ptytest.Start(t, cmd, 40, 120)
	idle := func() {
		t.Helper()
		waitIdle(t, term)
	}
	send := func(prompt, then string) {
		t.Helper()
		since := term.Len()
		term.Type(prompt, 20*time.Millisecond)
		term.Write("\r")
		term.WaitForScreenSince(t, since, then, 60*time.Second)
		idle()
	}
	term.WaitForScreen(t, "code · cap 8192", 60*time.Second) // the launcher's status line: claude is ready
	send("say one", "First answer.")
	w.fake.Expire(expiredKey.AccessKeyID)
	w.fake.SetReply("Second answer.")
	send("say two", "AWS authentication failed")
	if runs, _ := os.ReadFile(w.marker); len(runs) != 0 {
		t.Fatalf("awsAuthRefresh ran mid-session: %q", runs)
	}
	if out, err := exec.Command("/bin/sh", "-c", w.refresh).CombinedOutput(); err != nil {
		t.Fatalf("the refresh command: %v\n%s", err, out)
	}
	send("say two again", "Second answer.")
	quitClaude(t, term)
	w.refreshedOnce(t)
	var got []string
	for _, r := range w.fake.Turns() {
		if r.Status == 200 {
			got = append(got, r.AccessKeyID)
		}
	}
	if want := []string{expiredKey.AccessKeyID, freshKey.AccessKeyID}; !slices.Equal(got, want) {
		t.Errorf("answered turns signed by %v, want %v:\n%s", got, want, fakebedrock.Summary(w.fake.Requests()))
	}
}

// TestRefreshE2ENoRefreshCommand: the same expired credentials without an
// awsAuthRefresh: the gateway does not wait, and Claude Code gets Bedrock's
// refusal unchanged and says so itself.
func TestRefreshE2ENoRefreshCommand(t *testing.T) {
	w := newRefreshWorld(t, false, true)
	stdout, stderr, code := w.run(t)
	if code == 0 || !strings.Contains(stdout, fakebedrock.ExpiredMessage) {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\n%s", code, stdout, stderr, fakebedrock.Summary(w.fake.Requests()))
	}
	for _, r := range w.fake.Requests() {
		if r.Op != "sts" && r.Status == 200 {
			t.Errorf("%s %s answered 200 with expired credentials", r.Method, r.Path)
		}
	}
}
