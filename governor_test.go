package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
)

// The fake gateway: the test binary started by the launcher as
// `claude-bedrock-doctor +gateway`. It reads the Spec from stdin and serves
// on the inherited socket, as the real gateway will: requests with the
// Spec's token go on to the user's base URL (the fake Bedrock), others get
// 401. It notes what it saw, never the token itself, in $FAKE_GATEWAY_LOG.
// $FAKE_GATEWAY says how to misbehave: "exit" fails at once, "no-lifeline"
// ignores its lifeline, "no-term" ignores SIGTERM.

// gwEvent is one line of the fake gateway's log.
type gwEvent struct {
	Event      string `json:"event"` // "start" or "request"
	PID        int    `json:"pid"`
	Port       int    `json:"port"`
	TokenSHA   string `json:"token_sha"` // sha256 of the Spec's token
	Session    string `json:"session"`
	RuntimeDir string `json:"runtime_dir"`
	Upstream   gatewayspec.Upstream
	Profile    string `json:"profile"`
	Args       []string
	Env        []string `json:"env"`
	// A request:
	Method, Path string
	AuthOK       bool   `json:"auth_ok"`
	AuthSHA      string `json:"auth_sha"` // sha256 of the Authorization header
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func fakeGateway() int {
	mode := os.Getenv("FAKE_GATEWAY")
	if mode == "exit" {
		fmt.Fprintln(os.Stderr, "boom: no credentials")
		if f, err := os.OpenFile(os.Getenv("FAKE_GATEWAY_LOG"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			_, _ = f.WriteString(`{"event":"exit"}` + "\n") // the test counts them
			_ = f.Close()
		}
		return 1
	}
	spec, err := gatewayspec.Read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake gateway:", err)
		return 2
	}
	lf, life := gatewayspec.TakeFiles()
	ln, err := net.FileListener(lf)
	_ = lf.Close() // the listener holds its own copy
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake gateway:", err)
		return 3
	}
	var logMu sync.Mutex
	logf := io.Discard
	if p := os.Getenv("FAKE_GATEWAY_LOG"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake gateway:", err)
			return 4
		}
		logf = f
	}
	note := func(e gwEvent) {
		b, _ := json.Marshal(e)
		logMu.Lock()
		defer logMu.Unlock()
		_, _ = logf.Write(append(b, '\n')) // the test reads it; a lost line fails it
	}
	switch mode {
	case "no-term":
		signal.Ignore(syscall.SIGTERM)
	default:
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() { <-term; os.Exit(0) }()
	}
	if mode != "no-lifeline" {
		gatewayspec.WatchLifeline(life, func() {
			note(gwEvent{Event: "lifeline", PID: os.Getpid()})
			os.Exit(0)
		})
	}
	up, err := url.Parse(spec.Upstream.BaseURL)
	if err != nil || spec.Upstream.BaseURL == "" {
		fmt.Fprintln(os.Stderr, "fake gateway: no upstream base URL")
		return 5
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(up)
		r.Out.Header.Del("Authorization") // the fake Bedrock takes none (the user's CLAUDE_CODE_SKIP_BEDROCK_AUTH)
	}, FlushInterval: -1}
	note(gwEvent{Event: "start", PID: os.Getpid(), Port: ln.Addr().(*net.TCPAddr).Port, TokenSHA: sha(spec.Token),
		Session: spec.SessionID, RuntimeDir: spec.RuntimeDir, Upstream: spec.Upstream, Profile: spec.Profile, Args: os.Args, Env: os.Environ()})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && r.URL.Path == "/" {
			return
		}
		auth := r.Header.Get("Authorization")
		ok := subtle.ConstantTimeCompare([]byte(auth), []byte("Bearer "+spec.Token)) == 1
		note(gwEvent{Event: "request", PID: os.Getpid(), Method: r.Method, Path: r.URL.Path, AuthOK: ok, AuthSHA: sha(auth)})
		if !ok {
			http.Error(w, `{"message":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	_ = srv.Serve(ln) // until it is killed
	return 0
}

// governedLauncher returns a launcher binary whose claude-bedrock-doctor is
// the fake gateway (a copy of the launcher, beside a link to the test
// binary), and a log file for the fake gateway.
func governedLauncher(t *testing.T) (bin, gwLog string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "claude-bedrock")
	if err := os.Link(launcherBin, bin); err != nil {
		b, err := os.ReadFile(launcherBin)
		if err == nil {
			err = os.WriteFile(bin, b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(dir, doctorName)); err != nil {
		t.Fatal(err)
	}
	return bin, filepath.Join(t.TempDir(), "gateway.log")
}

// launcherWithout returns a launcher binary with no claude-bedrock-doctor
// beside it (nor on the tests' PATH).
func launcherWithout(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "claude-bedrock")
	if err := os.Link(launcherBin, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func gatewayEvents(t *testing.T, path string) []gwEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var evs []gwEvent
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e gwEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("gateway log: %v: %q", err, sc.Text())
		}
		evs = append(evs, e)
	}
	return evs
}

func starts(evs []gwEvent) []gwEvent {
	var out []gwEvent
	for _, e := range evs {
		if e.Event == "start" {
			out = append(out, e)
		}
	}
	return out
}

// waitEvents polls the gateway log until cond holds.
func waitEvents(t *testing.T, path, what string, cond func([]gwEvent) bool) []gwEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := gatewayEvents(t, path)
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway log: no %s after 30s: %+v", what, evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// children returns the pids of pid's children.
func children(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f) // a task may have ended
		for _, w := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(w)
			out = append(out, n)
		}
	}
	return out
}

// procEnv returns a process's environment.
func procEnv(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	return envMap(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"))
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// A zombie (state Z) has ended; its parent has not reaped it yet.
	return err == nil && !strings.Contains(string(b), ") Z ")
}

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // failing anyway
			t.Fatalf("%s (pid %d) still running 15s later", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listenAddr finds the local address of the socket listening on port in
// /proc/net/tcp and tcp6, as the kernel gives it ("0100007F" is 127.0.0.1).
func listenAddrs(t *testing.T, port int) []string {
	t.Helper()
	var addrs []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[3] != "0A" { // LISTEN
				continue
			}
			addr, p, _ := strings.Cut(fs[1], ":")
			if n, _ := strconv.ParseInt(p, 16, 32); int(n) == port {
				addrs = append(addrs, addr)
			}
		}
	}
	return addrs
}

// filesHolding walks roots and returns the files whose content holds secret.
func filesHolding(t *testing.T, secret string, roots ...string) []string {
	t.Helper()
	var found []string
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil // gone meanwhile, or not a file
			}
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, []byte(secret)) {
				found = append(found, p)
			}
			return nil
		})
	}
	return found
}

// TestGovernorRealClaudeThroughTheGateway runs the real Claude Code through
// the launcher with the governor on: every request reaches the session's
// gateway on 127.0.0.1 with the Spec's token, and goes on to Bedrock; the
// token is on no command line and in no file.
func TestGovernorRealClaudeThroughTheGateway(t *testing.T) {
	w := newCleanWorld(t)
	bin, gwLog := governedLauncher(t)
	tmp, runtimeDir := t.TempDir(), t.TempDir()
	env := append(w.env, "TMPDIR="+tmp, "XDG_RUNTIME_DIR="+runtimeDir, "FAKE_GATEWAY_LOG="+gwLog,
		"XDG_STATE_HOME="+filepath.Join(w.home, ".state"), "XDG_CACHE_HOME="+filepath.Join(w.home, ".cache"))
	w.fake.Update(func(b *fakebedrock.Behavior) { b.Delay = 3 * time.Second }) // a turn in flight to look at
	cmd, stdout, stderr := startLauncher(t, bin, env, w.dir, "-p", "hi")
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // after Wait: nothing
	evs := waitEvents(t, gwLog, "turn", func(evs []gwEvent) bool {
		for _, e := range evs {
			if strings.HasSuffix(e.Path, "/invoke-with-response-stream") {
				return true
			}
		}
		return false
	})
	gw := starts(evs)[0]

	// While the turn is in flight: claude's environment and command line,
	// the gateway's command line, the files, the socket.
	var claudePID int
	for _, c := range children(t, cmd.Process.Pid) {
		if c != gw.PID {
			claudePID = c
		}
	}
	if claudePID == 0 {
		t.Fatalf("no claude among the launcher's children %v (gateway %d)", children(t, cmd.Process.Pid), gw.PID)
	}
	cenv := procEnv(t, claudePID)
	token := cenv[keyBearer]
	if len(token) < 22 || sha(token) != gw.TokenSHA {
		t.Fatalf("claude's %s (%d chars) is not the Spec's token", keyBearer, len(token))
	}
	wantURL := "http://127.0.0.1:" + strconv.Itoa(gw.Port)
	if cenv[keyBaseURL] != wantURL || cenv[envGateway] != wantURL || cenv[envSession] != gw.Session {
		t.Errorf("claude's env: %s=%q %s=%q %s=%q; want %s and session %s", keyBaseURL, cenv[keyBaseURL], envGateway, cenv[envGateway], envSession, cenv[envSession], wantURL, gw.Session)
	}
	if v, ok := cenv[keySkip]; ok {
		t.Errorf("claude has %s=%q; want it removed", keySkip, v)
	}
	for _, pid := range []int{claudePID, gw.PID, cmd.Process.Pid} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(token)) {
			t.Errorf("the token is on the command line of pid %d: %q", pid, b)
		}
		if pid == claudePID && (!bytes.Contains(b, []byte(`"ANTHROPIC_BEDROCK_BASE_URL":"`+wantURL+`"`)) || !bytes.Contains(b, []byte(`"statusLine":{"type":"command","command":`))) {
			t.Errorf("claude's --settings lacks the base URL or the status line: %q", b)
		}
	}
	if genv := envMap(gw.Env); genv[keyBearer] != "" || genv[keyBaseURL] != "" || genv[keySkip] != "" {
		t.Errorf("the gateway's environment has claude's variables: %v", gw.Env)
	}
	if f := filesHolding(t, token, w.home, w.dir, tmp, runtimeDir, filepath.Dir(gwLog), filepath.Dir(bin)); len(f) > 0 {
		t.Errorf("the token is in files: %v", f)
	}
	if got := listenAddrs(t, gw.Port); len(got) != 1 || got[0] != "0100007F" {
		t.Errorf("the gateway's socket listens on %v; want 127.0.0.1 only (0100007F)", got)
	}

	code := waitCmd(t, cmd, 60*time.Second)
	if code != 0 || !strings.Contains(stdout.String(), fakebedrock.DefaultReply) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if stderr.String() != "" {
		t.Errorf("stderr %q, want nothing", stderr.String())
	}
	evs = gatewayEvents(t, gwLog)
	n := 0
	for _, e := range evs {
		if e.Event == "request" {
			n++
			if !e.AuthOK || e.AuthSHA != sha("Bearer "+token) {
				t.Errorf("%s %s reached the gateway without the session's token", e.Method, e.Path)
			}
		}
	}
	if up := gw.Upstream; up.BaseURL != w.fake.URL() || up.SkipAuth != "1" || up.BearerToken != "" {
		t.Errorf("the Spec's upstream %+v; want the user's base URL %s and skip-auth 1", up, w.fake.URL())
	}
	if turns := w.fake.Turns(); n < 2 || len(turns) == 0 {
		t.Errorf("%d requests at the gateway, %d turns at Bedrock", n, len(turns))
	}
	if len(starts(evs)) != 1 {
		t.Errorf("the gateway started %d times, want once", len(starts(evs)))
	}
	waitGone(t, gw.PID, "the gateway after claude exited")
}

// TestGovernorOffRealClaudeGoesStraightToBedrock: with governor = false,
// or without the AWS-linked binary, the real claude talks to the fake
// Bedrock as without the governor, and no gateway starts.
func TestGovernorOffRealClaudeGoesStraightToBedrock(t *testing.T) {
	governed, _ := governedLauncher(t)
	for _, tc := range []struct {
		name, bin, config, stderr string
	}{
		{"governor = false", governed, "[profiles.code]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ngovernor = false\n", ""},
		{"no AWS-linked binary", launcherWithout(t), "",
			"claude-bedrock: governor off: claude-bedrock-doctor is not installed beside claude-bedrock or on PATH: run ./install.sh again\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newCleanWorld(t)
			gwLog := filepath.Join(t.TempDir(), "gateway.log")
			if tc.config != "" {
				writeFile(t, filepath.Join(w.home, ".config/claude-bedrock/config.toml"), tc.config)
			}
			cmd, stdout, stderr := startLauncher(t, tc.bin, append(w.env, "FAKE_GATEWAY_LOG="+gwLog), w.dir, "-p", "hi")
			if code := waitCmd(t, cmd, 60*time.Second); code != 0 || !strings.Contains(stdout.String(), fakebedrock.DefaultReply) || stderr.String() != tc.stderr {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0, the reply, %q", code, stdout.String(), stderr.String(), tc.stderr)
			}
			if evs := gatewayEvents(t, gwLog); len(evs) > 0 {
				t.Errorf("a gateway ran: %+v", evs)
			}
			if len(w.fake.Turns()) == 0 {
				t.Errorf("no turn reached the fake Bedrock")
			}
		})
	}
}

// govRun runs a governed launcher with the fake claude in report mode.
func govRun(t *testing.T, bin string, env []string, args ...string) (report, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code := waitCmd(t, cmd, 30*time.Second)
	return readReport(t, env), errb.String(), code
}

// settingsArg returns the --settings JSON claude got, decoded.
func settingsArg(t *testing.T, r report) map[string]any {
	t.Helper()
	for i, a := range r.Args {
		if a == "--settings" && i+1 < len(r.Args) {
			var m map[string]any
			if err := json.Unmarshal([]byte(r.Args[i+1]), &m); err != nil {
				t.Fatalf("--settings %q: %v", r.Args[i+1], err)
			}
			return m
		}
	}
	t.Fatalf("no --settings in %q", r.Args)
	return nil
}

// TestGovernorEnvironment checks what claude gets, with the governor on and
// in each case where it stays off, with the fake claude.
func TestGovernorEnvironment(t *testing.T) {
	governed, _ := governedLauncher(t)
	bare := launcherWithout(t)
	userBase := "http://127.0.0.1:1/corporate"
	for _, tc := range []struct {
		name     string
		bin      string
		config   string
		settings string // ~/.claude/settings.json
		args     []string
		on       bool
		stderr   string // "" or the line
		ownLine  bool   // the user's statusLine: none added
	}{
		{name: "on by default", bin: governed, on: true},
		{name: "governor = false", bin: governed, config: "[profiles.code]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ngovernor = false\n"},
		{name: "no AWS-linked binary", bin: bare,
			stderr: "claude-bedrock: governor off: claude-bedrock-doctor is not installed beside claude-bedrock or on PATH: run ./install.sh again\n"},
		{name: "settings set the bearer token", bin: governed, settings: `{"env":{"AWS_BEARER_TOKEN_BEDROCK":"theirs"}}`,
			stderr: "claude-bedrock: governor off: ~/.claude/settings.json sets AWS_BEARER_TOKEN_BEDROCK\n"},
		{name: "settings set awsAuthRefresh: governed, claude runs it", bin: governed, on: true, settings: `{"awsAuthRefresh":"aws sso login"}`},
		{name: "your --settings sets the base URL", bin: governed, args: []string{"--settings", `{"env":{"ANTHROPIC_BEDROCK_BASE_URL":"http://x"}}`},
			stderr: "claude-bedrock: governor off: your --settings sets ANTHROPIC_BEDROCK_BASE_URL\n"},
		{name: "settings skip auth and base URL: governed, theirs go upstream", bin: governed, on: true,
			settings: `{"env":{"CLAUDE_CODE_SKIP_BEDROCK_AUTH":"1","ANTHROPIC_BEDROCK_BASE_URL":"` + userBase + `"}}`},
		{name: "their own status line", bin: governed, on: true, settings: `{"statusLine":{"type":"command","command":"mine"}}`, ownLine: true},
		{name: "their status line in --settings", bin: governed, on: true, args: []string{"--settings", `{"statusLine":{"type":"command","command":"mine"}}`}, ownLine: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, "report", "AWS_BEARER_TOKEN_BEDROCK=user-key", "ANTHROPIC_BEDROCK_BASE_URL=http://127.0.0.1:2/user", "CLAUDE_CODE_SKIP_BEDROCK_AUTH=1")
			home := homeOf(env)
			if tc.config != "" {
				writeFile(t, filepath.Join(home, ".config/claude-bedrock/config.toml"), tc.config)
			}
			if tc.settings != "" {
				writeFile(t, filepath.Join(home, ".claude/settings.json"), tc.settings)
			}
			r, stderr, code := govRun(t, tc.bin, env, append(tc.args, "-p", "hi")...)
			if code != 0 || stderr != tc.stderr {
				t.Errorf("exit %d, stderr %q; want 0, %q", code, stderr, tc.stderr)
			}
			set := settingsArg(t, r)
			senv, _ := set["env"].(map[string]any)
			if !tc.on {
				// As without the governor: the user's own values reach claude.
				if r.Env[keyBearer] != "user-key" || r.Env[keyBaseURL] != "http://127.0.0.1:2/user" || r.Env[keySkip] != "1" || r.Env[envGateway] != "" {
					t.Errorf("claude's env changed with the governor off: %v", r.Env)
				}
				if _, ok := senv[keyBaseURL]; ok && len(tc.args) == 0 {
					t.Errorf("--settings has a base URL with the governor off: %v", set)
				}
				if _, ok := set["statusLine"]; ok && !tc.ownLine {
					t.Errorf("a status line with the governor off: %v", set)
				}
				return
			}
			url := r.Env[keyBaseURL]
			port, err := strconv.Atoi(strings.TrimPrefix(url, "http://127.0.0.1:"))
			if err != nil || port <= 0 || r.Env[envGateway] != url {
				t.Fatalf("claude's base URL %q, %s %q", url, envGateway, r.Env[envGateway])
			}
			if tok := r.Env[keyBearer]; len(tok) < 22 || tok == "user-key" {
				t.Errorf("claude's token %q: want a fresh one of at least 128 bits", tok)
			}
			if _, ok := r.Env[keySkip]; ok {
				t.Errorf("claude has %s", keySkip)
			}
			if senv[keyBaseURL] != url || senv[keySkip] != "0" {
				t.Errorf("--settings env %v; want the base URL and %s=0", senv, keySkip)
			}
			for _, a := range r.Args {
				if strings.Contains(a, r.Env[keyBearer]) {
					t.Errorf("the token is in claude's arguments: %q", a)
				}
			}
			sl, hasLine := set["statusLine"].(map[string]any)
			switch {
			case tc.ownLine && len(tc.args) == 0 && hasLine:
				t.Errorf("statusLine %v; want none: the user's settings file has one", set["statusLine"])
			case tc.ownLine && len(tc.args) > 0 && (!hasLine || sl["command"] != "mine"):
				t.Errorf("statusLine %v; want the user's own", set["statusLine"])
			case !tc.ownLine && (!hasLine || sl["type"] != "command" || sl["command"] != shellQuote(tc.bin)+" +statusline"):
				t.Errorf("statusLine %v; want the launcher's +statusline", set["statusLine"])
			}
		})
	}
}

// TestGovernorSpecUpstream checks that the user's own values, from the
// settings files where they set them, reach the gateway in the Spec.
func TestGovernorSpecUpstream(t *testing.T) {
	fake := fakebedrock.New(t)
	bin, gwLog := governedLauncher(t)
	runtime := t.TempDir()
	env := testEnv(t, "sleep", "FAKE_SLEEP=10s", "FAKE_GATEWAY_LOG="+gwLog, "AWS_BEARER_TOKEN_BEDROCK=user-key",
		"ANTHROPIC_BEDROCK_BASE_URL=http://127.0.0.1:2/from-env", "AWS_ENDPOINT_URL_BEDROCK=http://127.0.0.1:3", "XDG_RUNTIME_DIR="+runtime)
	writeFile(t, filepath.Join(homeOf(env), ".claude/settings.json"), `{"env":{"CLAUDE_CODE_SKIP_BEDROCK_AUTH":"1","ANTHROPIC_BEDROCK_BASE_URL":"`+fake.URL()+`"},"awsCredentialExport":"print-creds"}`)
	cmd := exec.Command(bin, "+light", "-p", "hi")
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer waitCmd(t, cmd, 30*time.Second)
	defer cmd.Process.Signal(syscall.SIGTERM) // ends the sleeping claude
	gw := starts(waitEvents(t, gwLog, "start", func(evs []gwEvent) bool { return len(starts(evs)) > 0 }))[0]
	want := gatewayspec.Upstream{BearerToken: "user-key", BaseURL: fake.URL(), SkipAuth: "1"}
	if gw.Upstream != want || gw.Profile != "light" {
		t.Errorf("Spec: upstream %+v profile %q; want %+v, light", gw.Upstream, gw.Profile, want)
	}
	if want := filepath.Join(runtime, "claude-bedrock"); gw.RuntimeDir != want {
		t.Errorf("Spec: runtime folder %q, want %q (where +status and +statusline look: TestOneRuntimeFolder)", gw.RuntimeDir, want)
	}
	if len(gw.Args) != 2 || gw.Args[1] != "+gateway" {
		t.Errorf("gateway arguments %q", gw.Args)
	}
}

// TestGovernorSpecFields checks the Spec as the gateway reads it, field by
// field (the launcher writes it; the fake gateway echoes it back through a
// pipe the test reads).
func TestGovernorSpecRoundTrip(t *testing.T) {
	s := &gatewayspec.Spec{Version: gatewayspec.Version, Token: strings.Repeat("t", 43), SessionID: "abc", Region: "us-west-2",
		Endpoints: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, TokensPerMinute: 200000}
	var b bytes.Buffer
	if err := gatewayspec.Write(&b, s); err != nil {
		t.Fatal(err)
	}
	got, err := gatewayspec.Read(&b)
	if err != nil || got.Endpoints["AWS_ENDPOINT_URL"] != "http://127.0.0.1:9" || got.TokensPerMinute != 200000 {
		t.Fatalf("Read: %+v, %v", got, err)
	}
	for _, bad := range []string{`{"version":2}`, `{"version":1,"token":"short","session_id":"a","region":"r"}`,
		`{"version":1,"token":"` + strings.Repeat("t", 43) + `","session_id":"../x","region":"r"}`,
		`{"version":1,"unknown":1}`, strings.Repeat(" ", gatewayspec.MaxSize+1)} {
		if _, err := gatewayspec.Read(strings.NewReader(bad)); err == nil {
			t.Errorf("Read(%.60q) accepted it", bad)
		}
	}
}

// TestGatewayRestartsOnTheSamePort kills the gateway mid-session: the
// launcher starts it again on the same socket, which serves again.
func TestGatewayRestartsOnTheSamePort(t *testing.T) {
	fake := fakebedrock.New(t)
	bin, gwLog := governedLauncher(t)
	env := testEnv(t, "sleep", "FAKE_SLEEP=20s", "FAKE_GATEWAY_LOG="+gwLog, "ANTHROPIC_BEDROCK_BASE_URL="+fake.URL())
	cmd := exec.Command(bin, "-p", "hi")
	cmd.Env = env
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	first := starts(waitEvents(t, gwLog, "start", func(evs []gwEvent) bool { return len(starts(evs)) == 1 }))[0]
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	second := starts(waitEvents(t, gwLog, "second start", func(evs []gwEvent) bool { return len(starts(evs)) == 2 }))[1]
	back := time.Since(killed)
	if second.Port != first.Port || second.PID == first.PID || second.TokenSHA != first.TokenSHA {
		t.Fatalf("restarted gateway: port %d pid %d; first: port %d pid %d; same token %v", second.Port, second.PID, first.Port, first.PID, second.TokenSHA == first.TokenSHA)
	}
	resp, err := http.Head(fmt.Sprintf("http://127.0.0.1:%d/", second.Port))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD / on the same port after the restart: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	t.Logf("back %v after SIGKILL", back) // figure for the report; the assertion is that it is back at all
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if code := waitCmd(t, cmd, 30*time.Second); code != 143 {
		t.Errorf("exit %d, want 143 (claude's, killed by SIGTERM)", code)
	}
	if stderr.String() != "" {
		t.Errorf("stderr %q: a gateway that came back is no news", stderr.String())
	}
	waitGone(t, second.PID, "the restarted gateway")
}

// sleepingClaude is the pid of the fake claude in "sleep" mode, which it
// notes in its report file.
func sleepingClaude(t *testing.T, env []string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(homeOf(env), "report.json")) // not there yet: try again
		if pid, err := strconv.Atoi(string(b)); err == nil {
			return pid
		}
	}
	t.Fatal("the fake claude did not note its pid within 10s")
	return 0
}

// TestGatewayGivesUp: a gateway that cannot start is tried a few times,
// then the launcher gives up: it answers claude's requests itself with an
// error that names why and the way out (Claude Code shows a 400's message
// at once), says so once more after claude exits, and the exit code stays
// claude's.
func TestGatewayGivesUp(t *testing.T) {
	bin, gwLog := governedLauncher(t)
	env := testEnv(t, "sleep", "FAKE_SLEEP=60s", "FAKE_GATEWAY_LOG="+gwLog, "FAKE_GATEWAY=exit")
	cmd := exec.Command(bin, "-p", "hi")
	cmd.Env = env
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	waitEvents(t, gwLog, "4 failed starts", func(evs []gwEvent) bool { return len(evs) >= maxQuickDeaths })
	url := procEnv(t, sleepingClaude(t, env))[keyBaseURL]
	wantMsg := "claude-bedrock: the governor's gateway could not start (boom: no credentials); run claude-bedrock +doctor, or set governor = false in profile code to go to Bedrock directly, then start claude again"
	body := `{"message":"x"}`
	for _, method := range []string{http.MethodPost, http.MethodHead, http.MethodPost} { // a HEAD between: the next answer is whole
		var rb io.Reader = strings.NewReader(body)
		if method == http.MethodHead {
			rb = nil
		}
		req, err := http.NewRequest(method, url+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", rb)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s after the gateway failed %d times: %v", method, maxQuickDeaths, err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		var got struct{ Message string }
		if method == http.MethodPost {
			err = errors.Join(err, json.Unmarshal(b, &got))
		}
		if err != nil || resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" ||
			method == http.MethodPost && got.Message != wantMsg || method == http.MethodHead && len(b) != 0 {
			t.Errorf("%s: %d %v %q, %v; want 400, a ValidationException and the message %q", method, resp.StatusCode, resp.Header, b, err, wantMsg)
		}
	}
	stillEmpty := stderr.String()
	_ = cmd.Process.Signal(syscall.SIGTERM) // claude gets it, and dies of it
	code := waitCmd(t, cmd, 30*time.Second)
	want := "claude-bedrock: governor: the gateway (" + filepath.Join(filepath.Dir(bin), doctorName) + " +gateway) ended 4 times within seconds of starting, so claude's requests were answered with an error after that; its first error: boom: no credentials; run claude-bedrock +doctor, or set governor = false in profile code\n"
	if code != 143 || stderr.String() != want || stillEmpty != "" {
		t.Errorf("exit %d, stderr while claude ran %q, after:\n%q\nwant 143 and\n%q", code, stillEmpty, stderr.String(), want)
	}
	if n := len(gatewayEvents(t, gwLog)); n != maxQuickDeaths {
		t.Errorf("%d starts, want %d", n, maxQuickDeaths)
	}
	if c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://")); err == nil {
		_ = c.Close()
		t.Errorf("%s still accepts connections after the launcher exited", url)
	}
}

// TestGatewayGivesUpRealClaudeShowsWhy: with a gateway that cannot start,
// the real Claude Code shows the launcher's answer, cause and fix, and
// exits, instead of a connection error whose reason comes only after.
func TestGatewayGivesUpRealClaudeShowsWhy(t *testing.T) {
	w := newCleanWorld(t)
	bin, gwLog := governedLauncher(t)
	env := append(w.env, "TMPDIR="+t.TempDir(), "FAKE_GATEWAY_LOG="+gwLog, "FAKE_GATEWAY=exit")
	cmd, stdout, stderr := startLauncher(t, bin, env, w.dir, "-p", "hi")
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // after Wait: nothing
	code := waitCmd(t, cmd, 120*time.Second)
	want := "API Error: 400 claude-bedrock: the governor's gateway could not start (boom: no credentials); run claude-bedrock +doctor, or set governor = false in profile "
	if code != 1 || !strings.Contains(stdout.String()+stderr.String(), want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout.String(), stderr.String(), want)
	}
	if n := len(w.fake.Requests()); n != 0 {
		t.Errorf("%d requests reached Bedrock", n)
	}
}

// TestGatewayStopsThroughItsLifeline: when claude has exited, the launcher
// closes the gateway's lifeline at once, beside SIGTERM: a gateway that
// SIGTERM does not reach (it ignores it here; on systems without waitid's
// WNOWAIT the supervisor does not signal a pid it may have reaped) ends
// then, not after the launcher's grace period and SIGKILL.
func TestGatewayStopsThroughItsLifeline(t *testing.T) {
	bin, gwLog := governedLauncher(t)
	env := testEnv(t, "sleep", "FAKE_SLEEP=60s", "FAKE_GATEWAY_LOG="+gwLog, "FAKE_GATEWAY=no-term", "ANTHROPIC_BEDROCK_BASE_URL=http://127.0.0.1:1")
	cmd := exec.Command(bin, "-p", "hi")
	cmd.Env = env
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	gw := starts(waitEvents(t, gwLog, "start", func(evs []gwEvent) bool { return len(starts(evs)) > 0 }))[0]
	_ = cmd.Process.Signal(syscall.SIGTERM) // claude gets it, and dies of it
	if code := waitCmd(t, cmd, 30*time.Second); code != 143 || stderr.String() != "" {
		t.Errorf("exit %d, stderr %q; want 143 (claude's) and nothing", code, stderr.String())
	}
	ended := false
	for _, e := range gatewayEvents(t, gwLog) {
		ended = ended || e.Event == "lifeline" && e.PID == gw.PID
	}
	if !ended {
		t.Errorf("the gateway did not see its lifeline end while the launcher waited for it: %+v", gatewayEvents(t, gwLog))
	}
	waitGone(t, gw.PID, "the gateway")
}

// TestGovernorOffForSubcommands: claude --version, --help, mcp list start
// no session: no governor, and nothing of the launch spent on one (not even
// reading the settings files that could turn it off).
func TestGovernorOffForSubcommands(t *testing.T) {
	governed, _ := governedLauncher(t)
	for _, args := range [][]string{{"--version"}, {"--help"}, {"mcp", "list"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			env := testEnv(t, "report", "CLAUDE_BEDROCK_DEBUG=1", "ANTHROPIC_BEDROCK_BASE_URL=http://127.0.0.1:2/user")
			writeFile(t, filepath.Join(homeOf(env), ".claude/settings.json"), `{"env":{"AWS_BEARER_TOKEN_BEDROCK":"theirs"}}`)
			r, stderr, code := govRun(t, governed, env, args...)
			if code != 0 || !strings.Contains(stderr, "claude-bedrock: governor off: not a session\n") || strings.Contains(stderr, "settings.json") {
				t.Errorf("exit %d, stderr:\n%s\nwant 0, the governor off as no session, and no settings file read", code, stderr)
			}
			if r.Env[keyBaseURL] != "http://127.0.0.1:2/user" || r.Env[envGateway] != "" || r.Env[envSession] != "" {
				t.Errorf("claude's environment has the governor's: %v", r.Env)
			}
		})
	}
}

// TestGatewayEndsWithTheLauncher: a SIGKILLed launcher leaves no gateway
// behind, by either of the two ways the protocol gives.
func TestGatewayEndsWithTheLauncher(t *testing.T) {
	for _, mode := range []string{"no-lifeline", "no-term"} { // the parent-death signal alone; the lifeline alone
		t.Run(mode, func(t *testing.T) {
			bin, gwLog := governedLauncher(t)
			env := testEnv(t, "sleep", "FAKE_SLEEP=30s", "FAKE_GATEWAY_LOG="+gwLog, "FAKE_GATEWAY="+mode, "ANTHROPIC_BEDROCK_BASE_URL=http://127.0.0.1:1")
			cmd := exec.Command(bin, "-p", "hi")
			cmd.Env = env
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			gw := starts(waitEvents(t, gwLog, "start", func(evs []gwEvent) bool { return len(starts(evs)) > 0 }))[0]
			claude := sleepingClaude(t, env)
			t.Cleanup(func() { _ = syscall.Kill(claude, syscall.SIGKILL) }) // orphaned with the launcher
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait() // killed
			waitGone(t, gw.PID, "the gateway of a SIGKILLed launcher")
		})
	}
}

// TestProfilesShowsTheGovernor: +profiles has the governor column.
func TestProfilesShowsTheGovernor(t *testing.T) {
	env := testEnv(t, "report")
	writeFile(t, filepath.Join(homeOf(env), ".config/claude-bedrock/config.toml"),
		"[profiles.quiet]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ngovernor = false\n"+
			"[profiles.team]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ntokens_per_minute = 200000\nrequests_per_minute = 50\n")
	out, stderr, code := runLauncher(t, env, "", "", "+profiles")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"GOVERNOR", "quiet ", "team "} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			if f[0] == "*" {
				f = f[1:]
			}
			rows[f[0]] = line
		}
	}
	for name, want := range map[string]string{"quiet": " off ", "team": " on, 200000 TPM, 50 RPM ", "light": " on "} {
		if line := rows[name]; !strings.Contains(line, want) {
			t.Errorf("+profiles row of %s %q; want %q in it", name, line, want)
		}
	}
}

// TestLauncherLinksNoAWSSDK: the launch path stays light; only the
// claude-bedrock-doctor binary links the AWS SDK. The Spec package is the
// standard library alone, so the gateway can import it too.
func TestLauncherLinksNoAWSSDK(t *testing.T) {
	for _, tc := range []struct {
		pkg     string
		stdOnly bool
	}{{".", false}, {"./internal/gatewayspec", true}} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", tc.pkg, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			path, std, _ := strings.Cut(line, " ")
			if strings.Contains(path, "github.com/aws/") || tc.stdOnly && std != "true" && !strings.HasSuffix(path, "/internal/gatewayspec") {
				t.Errorf("%s links %s", tc.pkg, path)
			}
		}
	}
}

// TestLaunchInsideAGovernedSession: a launch from inside a governed session
// (Claude Code's process wrapper, claude-bedrock in a tool) puts the user's
// own values back instead of taking the session's gateway for theirs.
func TestLaunchInsideAGovernedSession(t *testing.T) {
	parent := []string{envGateway + "=http://127.0.0.1:9", keyBaseURL + "=http://127.0.0.1:9", keyBearer + "=parent-session-token",
		envSession + "=parent", envOwn + keyBearer + "=user-key", envOwn + keyBaseURL + "=http://corp.example"}
	for _, off := range []bool{true, false} {
		t.Run("governor off="+strconv.FormatBool(off), func(t *testing.T) {
			env := testEnv(t, "report", parent...)
			if off {
				writeFile(t, filepath.Join(homeOf(env), ".config/claude-bedrock/config.toml"),
					"[profiles.code]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_tokens = 4096\ngovernor = false\n")
			}
			r, stderr, code := govRun(t, launcherBin, env, "-p", "hi")
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if off {
				for k, want := range map[string]string{keyBearer: "user-key", keyBaseURL: "http://corp.example", envGateway: "", envSession: "", envOwn + keyBearer: ""} {
					if r.Env[k] != want {
						t.Errorf("claude's %s = %q, want %q", k, r.Env[k], want)
					}
				}
				return
			}
			if r.Env[keyBearer] == "parent-session-token" || r.Env[keyBaseURL] == "http://127.0.0.1:9" || r.Env[envSession] == "parent" {
				t.Errorf("the nested session uses the parent's gateway: %v", r.Env)
			}
			if r.Env[envOwn+keyBearer] != "user-key" || r.Env[envOwn+keyBaseURL] != "http://corp.example" {
				t.Errorf("the user's own values are not kept for the next level: %v", r.Env)
			}
		})
	}
}
