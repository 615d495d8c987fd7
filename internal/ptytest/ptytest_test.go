package ptytest_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/claude-bedrock/claude-bedrock/internal/ptytest"
)

const timeout = 20 * time.Second

// TestMain turns the test binary into the child programs these tests run on
// the pty, chosen by PTYTEST_HELPER.
func TestMain(m *testing.M) {
	if h := os.Getenv("PTYTEST_HELPER"); h != "" {
		os.Exit(helper(h))
	}
	os.Exit(m.Run())
}

func helper(name string) int {
	switch name {
	case "info":
		rows, cols, err := pty.Getsize(os.Stdin)
		if err != nil {
			fmt.Println("getsize:", err)
			return 3
		}
		fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
		if err != nil {
			fmt.Println("tcgetpgrp:", err)
			return 3
		}
		sid, _ := unix.Getsid(0) // our own session always exists
		fmt.Printf("size=%dx%d leader=%v fg=%v\n", rows, cols, sid == os.Getpid(), fg == syscall.Getpgrp())
		return 0
	case "winch":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGWINCH)
		fmt.Println("ready")
		select {
		case <-ch:
		case <-time.After(timeout):
			return 4
		}
		rows, cols, _ := pty.Getsize(os.Stdin) // printed either way
		fmt.Printf("resized=%dx%d\n", rows, cols)
		return 0
	case "raw":
		st, err := term.MakeRaw(0)
		if err != nil {
			fmt.Println("makeraw:", err)
			return 3
		}
		fmt.Print("raw now\r\n")
		b := make([]byte, 1)
		_, _ = os.Stdin.Read(b) // any key, or EOF, ends raw mode
		_ = term.Restore(0, st) // checked by the test through the slave's mode
		fmt.Println("restored")
		_, _ = os.Stdin.Read(b) // wait for the test to look
		return 0
	case "draw":
		// Text as a TUI draws it: a cursor jump in place of a space, a line
		// wrapped by cursor addressing, colour in the middle of a word.
		fmt.Print("\x1b[?1049h\x1b[2J\x1b[1;1HToo\x1b[1Cmany\x1b[2;1Hto\x1b[38;5;203mkens\x1b[0m, please\r\n")
		bufio.NewReader(os.Stdin).ReadString('\n') //nolint:errcheck // waiting for the test
		return 0
	case "exit7":
		fmt.Println("bye")
		return 7
	case "hang":
		fmt.Println("hanging")
		time.Sleep(time.Hour) // killed by the watchdog
		return 0
	}
	return 99
}

func helperCmd(t *testing.T, name string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	// atexit_sleep_ms=0: a race-enabled child otherwise sleeps 1s before exiting.
	cmd.Env = append(os.Environ(), "PTYTEST_HELPER="+name, "GORACE=atexit_sleep_ms=0")
	return cmd
}

func TestCatEchoAndEOF(t *testing.T) {
	tm := ptytest.Start(t, exec.Command("cat"), 24, 80)
	tm.Write("hello pty\r")
	// Echo by the line discipline and cat's own copy: the CR becomes "\r\n".
	tm.WaitForScreenCount(t, "hello pty", 2, timeout)
	if !strings.Contains(string(tm.Output()), "hello pty\r\n") {
		t.Errorf("output %q lacks the CRLF a terminal gets", tm.Output())
	}
	tm.Write("\x04") // Ctrl-D: EOF for cat
	if code := tm.Wait(t, timeout); code != 0 {
		t.Errorf("cat exit %d, want 0", code)
	}
}

func TestSizeSessionAndControllingTerminal(t *testing.T) {
	for _, sz := range [][2]int{{24, 80}, {10, 40}, {50, 132}} {
		tm := ptytest.Start(t, helperCmd(t, "info"), sz[0], sz[1])
		want := fmt.Sprintf("size=%dx%d leader=true fg=true", sz[0], sz[1])
		tm.WaitFor(t, want, timeout)
		if code := tm.Wait(t, timeout); code != 0 {
			t.Errorf("exit %d; output %q", code, tm.Output())
		}
	}
}

func TestResize(t *testing.T) {
	tm := ptytest.Start(t, helperCmd(t, "winch"), 24, 80)
	tm.WaitFor(t, "ready", timeout)
	tm.Resize(30, 100)
	tm.WaitFor(t, "resized=30x100", timeout)
	if r, c := tm.Screen().Size(); r != 30 || c != 100 {
		t.Errorf("Screen size %dx%d after Resize, want 30x100", r, c)
	}
	if code := tm.Wait(t, timeout); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestModeRawAndRestored(t *testing.T) {
	tm := ptytest.Start(t, helperCmd(t, "raw"), 24, 80)
	if m := tm.Mode(t); !m.Sane() {
		// Before the child ran MakeRaw the pty is in its default mode, unless
		// the child was already quick; only report the fresh state if it is odd.
		if !m.Raw() {
			t.Errorf("fresh pty mode %+v is neither sane nor raw", m)
		}
	}
	tm.WaitFor(t, "raw now", timeout)
	if m := tm.Mode(t); !m.Raw() {
		t.Errorf("mode after MakeRaw = %+v, want raw", m)
	}
	tm.Write("x")
	tm.WaitFor(t, "restored", timeout)
	if m := tm.Mode(t); !m.Sane() {
		t.Errorf("mode after Restore = %+v, want sane", m)
	}
	tm.Write("\r")
	if code := tm.Wait(t, timeout); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestWaitForScreenAcrossCursorJumps(t *testing.T) {
	tm := ptytest.Start(t, helperCmd(t, "draw"), 24, 80)
	tm.WaitForScreen(t, "Too many tokens, please", timeout)
	if strings.Contains(string(tm.Output()), "Too many") {
		t.Errorf("raw output %q contains the phrase: the test would not exercise squeezing", tm.Output())
	}
	if n := tm.ScreenCount("many tokens"); n != 1 {
		t.Errorf("ScreenCount = %d, want 1", n)
	}
	tm.WaitForRegexp(t, regexp.MustCompile(`to\x1b\[[0-9;]*mkens`), timeout)
	scr := tm.WaitForScreenState(t, "the two rows", func(s *ptytest.Screen) bool {
		l := s.Lines()
		return l[0] == "Too many" && l[1] == "tokens, please"
	}, timeout)
	if !scr.AltScreen() || !scr.Shows("Too many tokens") {
		t.Errorf("alt %v, screen:\n%s", scr.AltScreen(), scr)
	}
	tm.Write("\r")
	if code := tm.Wait(t, timeout); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestExitCodes(t *testing.T) {
	tm := ptytest.Start(t, helperCmd(t, "exit7"), 24, 80)
	if code := tm.Wait(t, timeout); code != 7 {
		t.Errorf("exit %d, want 7", code)
	}
	if tm.Until(func(b []byte) bool { return bytes.Contains(b, []byte("never")) }, timeout) {
		t.Errorf("Until held for text that never came")
	}
	if !tm.Until(func(b []byte) bool { return bytes.Contains(b, []byte("bye")) }, timeout) {
		t.Errorf("Until did not hold for text that came")
	}
	tm.WaitFor(t, "bye", timeout) // output read to the end before Wait returned

	tm = ptytest.Start(t, helperCmd(t, "hang"), 24, 80)
	tm.WaitFor(t, "hanging", timeout)
	if err := syscall.Kill(tm.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := tm.Wait(t, timeout); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit %d, want %d", code, 128+int(syscall.SIGTERM))
	}
}

func TestCtrlCReachesForegroundGroup(t *testing.T) {
	tm := ptytest.Start(t, helperCmd(t, "hang"), 24, 80)
	tm.WaitFor(t, "hanging", timeout)
	if fg := tm.ForegroundPgrp(t); fg != tm.Pid() {
		t.Errorf("foreground group %d, want the child's %d", fg, tm.Pid())
	}
	tm.Write("\x03") // the line discipline turns it into SIGINT
	if code := tm.Wait(t, timeout); code != 128+int(syscall.SIGINT) {
		t.Errorf("exit %d, want %d", code, 128+int(syscall.SIGINT))
	}
}

func TestWatchdogKillsChild(t *testing.T) {
	var pid int
	t.Run("inner", func(t *testing.T) {
		tm := ptytest.Start(t, helperCmd(t, "hang"), 24, 80)
		tm.WaitFor(t, "hanging", timeout)
		pid = tm.Pid()
	})
	// The inner test's cleanup has run: the child must be gone and reaped.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) = %v after the test ended, want ESRCH", pid, err)
	}
}

func TestSqueeze(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plaintext"},
		{"Too\x1b[7Gmany", "Toomany"},
		{"a\x1b[38;2;1;2;3mb\x1b[0m", "ab"},
		{"x\x1b]0;title\x07y", "xy"},
		{"x\x1b]8;;http://h\x1b\\y", "xy"},
		{"\x1b[?1049h\x1b[?2004hz", "z"},
		{"x\x1b(By", "xy"},
		{"x\x1b7y\x1b8", "xy"},
		{"wrap\r\n ped", "wrapped"},
		{"cut\x1b[3", "cut"},
		{"● API Error · (429)", "●APIError·(429)"},
		{"no\u00a0break", "nobreak"},
	} {
		if got := string(ptytest.Squeeze([]byte(tc.in))); got != tc.want {
			t.Errorf("Squeeze(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScreenText(t *testing.T) {
	got := ptytest.ScreenText([]byte("Too\x1b[7Gmany\x1b[1m!\x1b[0m\r\nnext"))
	if want := "Too many!\nnext"; got != want {
		t.Errorf("ScreenText = %q, want %q", got, want)
	}
}
