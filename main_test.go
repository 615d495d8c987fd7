package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/adrg/xdg"
	"github.com/creack/pty"
	"golang.org/x/term"
)

// The test binary doubles as a fake claude: the launcher under test finds it
// on PATH as "claude" (a symlink), and FAKE_CLAUDE tells it what to do.
const fakeEnv = "FAKE_CLAUDE"

// launcherBin is the claude-bedrock binary built once for these tests; fakeDir
// holds the fake claude.
var launcherBin, fakeDir string

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == doctorName {
		// The launcher started the test binary as its AWS-linked binary:
		// the fake gateway for +gateway, the real doctor for the rest.
		if len(os.Args) > 1 && os.Args[1] == "+gateway" {
			os.Exit(fakeGateway())
		}
		real := filepath.Join(filepath.Dir(os.Getenv("CLAUDE_BEDROCK_LAUNCHER")), "real", doctorName) // +doctor says where the launcher is
		err := syscall.Exec(real, os.Args, os.Environ())
		fmt.Fprintln(os.Stderr, "running the real doctor:", err)
		os.Exit(1)
	}
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(fakeClaude(mode))
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "claude-bedrock-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir) // best effort: a temp dir
	// Beside the launcher, as claude-bedrock-doctor: the test binary, which
	// is the fake gateway for +gateway (governor_test.go) and execs the
	// real doctor, built into real/, for everything else.
	launcherBin = filepath.Join(dir, "claude-bedrock")
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, b := range [][2]string{{launcherBin, "."}, {filepath.Join(dir, "real", doctorName), "./cmd/claude-bedrock-doctor"}} {
		build := exec.Command("go", "build", "-o", b[0], b[1])
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", b[1], err)
			return 1
		}
	}
	fakeDir = filepath.Join(dir, "fake")
	self, err := os.Executable()
	if err == nil {
		err = os.Mkdir(fakeDir, 0o755)
	}
	if err == nil {
		err = os.Symlink(self, filepath.Join(fakeDir, "claude"))
	}
	if err == nil {
		err = os.Symlink(self, filepath.Join(dir, doctorName))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// report is what the fake claude saw.
type report struct {
	Args     []string          `json:"args"`
	Env      map[string]string `json:"env"`
	StdinTTY bool              `json:"stdin_tty"`
	Ppid     int               `json:"ppid"`
	Rows     int               `json:"rows"`
	Cols     int               `json:"cols"`
	// The content and permissions of a --settings file, read while claude ran.
	SettingsFile string      `json:"settings_file"`
	SettingsMode os.FileMode `json:"settings_mode"`
}

// fakeClaude is the fake claude's main.
func fakeClaude(mode string) int {
	switch mode {
	case "report": // write what it saw to $FAKE_REPORT, exit $FAKE_EXIT
		r := report{Args: os.Args[1:], Env: map[string]string{}, StdinTTY: term.IsTerminal(0), Ppid: os.Getppid()}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			r.Env[k] = v
		}
		if ws, err := pty.GetsizeFull(os.Stdin); err == nil {
			r.Rows, r.Cols = int(ws.Rows), int(ws.Cols)
		}
		for i, a := range os.Args[1 : len(os.Args)-1] {
			if v := os.Args[i+2]; a == "--settings" && !strings.HasPrefix(v, "{") {
				// A settings file: what it held while claude ran, and who could read it.
				b, _ := os.ReadFile(v)
				r.SettingsFile = string(b)
				if fi, err := os.Stat(v); err == nil {
					r.SettingsMode = fi.Mode().Perm()
				}
			}
		}
		b, _ := json.Marshal(r)
		if err := os.WriteFile(os.Getenv("FAKE_REPORT"), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 99
		}
		var code int
		fmt.Sscan(os.Getenv("FAKE_EXIT"), &code)
		return code
	case "streams": // one line on stdout, one on stderr
		fmt.Println("to-stdout")
		fmt.Fprintln(os.Stderr, "to-stderr")
		return 0
	case "echo": // copy stdin to stdout until EOF, then say so on stderr
		n, err := io.Copy(os.Stdout, os.Stdin)
		fmt.Fprintf(os.Stderr, "eof after %d bytes, err=%v\n", n, err)
		return 0
	case "interactive": // a tiny terminal program
		ws, _ := pty.GetsizeFull(os.Stdin)
		fmt.Printf("ready tty=%v size=%dx%d\n", term.IsTerminal(0), ws.Rows, ws.Cols)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		var line string
		fmt.Scanln(&line)
		fmt.Printf("got %q\n", line)
		<-winch
		ws, _ = pty.GetsizeFull(os.Stdin)
		fmt.Printf("resized %dx%d\n", ws.Rows, ws.Cols)
		return 7
	case "flood": // write recorded TUI output as fast as possible (bench_test.go)
		return fakeFlood()
	case "jobcontrol": // a TUI that suspends itself on Ctrl-Z the way Claude Code does
		return fakeJobControl()
	case "tee": // run $TEE_TARGET, copying its stdout to $TEE_OUT as well
		return fakeTee()
	case "go": // `go build … -o OUT PKG` for install.sh: copy the binary built for PKG (install_test.go)
		return fakeGoBuild()
	case "replay": // note the start, draw $FAKE_REPLAY, then keep what is typed in $FAKE_KEYS
		return fakeReplay()
	case "sleep": // note its pid in $FAKE_REPORT, sleep $FAKE_SLEEP, exit 0
		_ = os.WriteFile(os.Getenv("FAKE_REPORT"), []byte(strconv.Itoa(os.Getpid())), 0o644) // the test fails without it
		d, _ := time.ParseDuration(os.Getenv("FAKE_SLEEP"))
		time.Sleep(d)
		return 0
	case "hang": // wait to be signalled
		fmt.Println("hanging")
		time.Sleep(time.Minute)
		return 0
	case "crash": // switch on TUI modes, then die without switching them off
		os.Stdout.WriteString("\x1b[?1049h\x1b[?1000h\x1b[?2004h\x1b[?25ltui\n")
		syscall.Kill(os.Getpid(), syscall.SIGKILL) // Go would turn a SIGSEGV into its own exit 2
		time.Sleep(time.Minute)
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown fake mode", mode)
	return 98
}

// env returns an environment for the launcher: a throw-away HOME, the fake
// claude first on PATH, and extra entries.
func testEnv(t *testing.T, mode string, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{
		"HOME=" + home, "PATH=" + fakeDir + ":/usr/bin:/bin", fakeEnv + "=" + mode,
		"FAKE_REPORT=" + filepath.Join(home, "report.json"), "TERM=xterm",
		"XDG_CONFIG_DIRS=" + t.TempDir(), // the system config folder: none from the machine
	}
	return append(env, extra...)
}

// isolateHome gives an in-process test a throw-away home of its own: the
// process environment, where the xdg package finds the base directories,
// points at it, with no system config from the machine.
func isolateHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Cleanup(xdg.Reload) // after t.Setenv has put the old values back
	t.Setenv("HOME", home)
	for _, k := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "CLAUDE_BEDROCK_CONFIG"} {
		t.Setenv(k, "")
	}
	t.Setenv("XDG_CONFIG_DIRS", t.TempDir())
	xdg.Reload()
	return home
}

func homeOf(env []string) string {
	for _, kv := range env {
		if h, ok := strings.CutPrefix(kv, "HOME="); ok {
			return h
		}
	}
	panic("no HOME")
}

// runLauncher runs claude-bedrock with args on pipes and returns its stdout,
// stderr and exit code.
func runLauncher(t *testing.T, env []string, dir string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(launcherBin, args...)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill() // the test fails anyway
		t.Fatalf("claude-bedrock %q still running after 30s; stderr: %s", args, errb.String())
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func readReport(t *testing.T, env []string) report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(homeOf(env), "report.json"))
	if err != nil {
		t.Fatalf("the fake claude did not run: %v", err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func execLauncher(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(launcherBin, args...)
	cmd.Env = env
	return cmd
}

func runAs(t *testing.T, path string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startLauncher starts bin with args, env and dir, its output caught in
// buffers safe to read while it runs.
func startLauncher(t *testing.T, bin string, env []string, dir string, args ...string) (cmd *exec.Cmd, stdout, stderr *lockedBuffer) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	cmd.Env, cmd.Dir = env, dir
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdout, stderr
}

// lockedBuffer is an io.Writer safe to read while a process writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitOutput(t *testing.T, b *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output after 10s: %q", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitCmd(t *testing.T, cmd *exec.Cmd, timeout time.Duration) int {
	t.Helper()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // the status is read from ProcessState
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill() // failing anyway
		t.Fatalf("still running after %v", timeout)
	}
	return cmd.ProcessState.ExitCode()
}

// fakeJobControl reads the terminal raw; Ctrl-Z stops its own process group
// with SIGTSTP after giving the terminal back, as Claude Code does; "ping"
// and Enter answer "pong" and exit 5.
func fakeJobControl() int {
	state, err := term.MakeRaw(0)
	if err != nil {
		fmt.Println("not a terminal:", err)
		return 90
	}
	defer term.Restore(0, state)
	fmt.Printf("fake ready ppid=%d\r\n", os.Getppid())
	var line []byte
	buf := make([]byte, 64)
	for {
		n, err := os.Stdin.Read(buf)
		if err != nil {
			return 91
		}
		for _, c := range buf[:n] {
			switch c {
			case 0x1a:
				// As Claude Code 2.1.328 does (measured): cooked mode, a
				// message, SIGTSTP to its own process group — which the
				// kernel discards, the group being orphaned under any PTY
				// proxy — then it waits for SIGCONT.
				cont := make(chan os.Signal, 1)
				signal.Notify(cont, syscall.SIGCONT)
				term.Restore(0, state)
				// A real TUI takes a moment between giving the terminal
				// up and saying so: its message must still reach the
				// screen before the shell's "Stopped".
				time.Sleep(30 * time.Millisecond)
				fmt.Print("suspended\r\n")
				syscall.Kill(0, syscall.SIGTSTP)
				<-cont
				signal.Stop(cont)
				term.MakeRaw(0)
				ws, _ := pty.GetsizeFull(os.Stdin)
				fmt.Printf("resumed size=%dx%d\r\n", ws.Rows, ws.Cols)
			case '\r':
				if string(line) == "ping" {
					fmt.Print("pong\r\n")
					return 5
				}
				line = line[:0]
			default:
				line = append(line, c)
			}
		}
	}
}

// fakeTee runs the real program named by TEE_TARGET with the same arguments
// and stdin, and writes its stdout both to stdout and to TEE_OUT: what
// claude wrote, to compare with what the launcher passed on.
func fakeTee() int {
	f, err := os.Create(os.Getenv("TEE_OUT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 97
	}
	defer f.Close()
	cmd := exec.Command(os.Getenv("TEE_TARGET"), os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, io.MultiWriter(os.Stdout, f), os.Stderr
	cmd.Env = os.Environ()
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		return 96
	}
	return cmd.ProcessState.ExitCode()
}

// fakeReplay is a claude that appends its arguments to $HOME/starts (and
// two of its variables to $HOME/envs), writes
// the recording $FAKE_REPLAY (of real Claude Code output) in raw mode, and
// again at each SIGWINCH (after its mouse modes, $FAKE_REPAINT_DELAY later,
// one at a time), and appends every byte typed to $HOME/keys until it is
// killed.
func fakeReplay() int {
	home := os.Getenv("HOME")
	f, err := os.OpenFile(filepath.Join(home, "starts"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 99
	}
	fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
	f.Close()
	if f, err := os.OpenFile(filepath.Join(home, "envs"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(f, "wrapper=%s started=%s\n", os.Getenv("CLAUDE_CODE_PROCESS_WRAPPER"), os.Getenv("CLAUDE_BEDROCK_STARTED"))
		f.Close()
	}
	if _, err := term.MakeRaw(0); err != nil {
		fmt.Fprintln(os.Stderr, "fake replay: raw mode:", err)
		return 96
	}
	rec, err := os.ReadFile(os.Getenv("FAKE_REPLAY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 97
	}
	os.Stdout.Write(rec)
	delay, _ := time.ParseDuration(os.Getenv("FAKE_REPAINT_DELAY"))
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		for range winch { // a TUI draws its whole screen again at a resize
			// As Claude Code does: its mouse modes again at once, then
			// the screen, later on a busy machine.
			os.Stdout.WriteString("\x1b[?1000h\x1b[?1002h\x1b[?1003h\x1b[?1006h")
			time.Sleep(delay)
			os.Stdout.Write(append([]byte("\x1b[2J\x1b[H"), rec...))
		}
	}()
	keys, err := os.OpenFile(filepath.Join(home, "keys"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 99
	}
	buf := make([]byte, 256)
	for {
		n, err := os.Stdin.Read(buf)
		keys.Write(buf[:n])
		if err != nil {
			return 0
		}
	}
}
