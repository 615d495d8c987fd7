package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
)

// The status line's bounds: Claude Code runs it after every message and on
// a timer, and shows nothing while it runs.
const (
	// statuslineInput bounds what is read of the JSON Claude Code writes on
	// stdin.
	statuslineInput = 64 << 10
	// statuslineInputWait bounds the wait for that JSON to end. Everything
	// the line shows comes from the environment claude got and the
	// gateway's snapshot; the input is read only so that Claude Code's write
	// never meets a closed pipe.
	statuslineInputWait = 20 * time.Millisecond
)

// statusline is `claude-bedrock +statusline`, the status line the launcher
// adds to Claude Code's settings: one line, "profile · cap · quota use ·
// waiting". It never fails: whatever its input, environment or snapshot,
// it prints a line and exits 0, with "—" for what it does not know.
func statusline(stdin io.Reader, stdout io.Writer, env func(string) string, now time.Time) int {
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, io.LimitReader(stdin, statuslineInput)) // content unused; see statuslineInputWait
	}()
	line := statusText(env, now)
	t := time.NewTimer(statuslineInputWait)
	select {
	case <-drained:
	case <-t.C:
	}
	_, _ = io.WriteString(stdout, line+"\n") // nowhere to report a failed write to
	return 0
}

// statusText composes the line.
func statusText(env func(string) string, now time.Time) string {
	profile := printable(env("CLAUDE_BEDROCK_PROFILE"))
	if profile == "" {
		profile = "—"
	}
	capText := "cap —"
	if n, err := strconv.Atoi(env("CLAUDE_CODE_MAX_OUTPUT_TOKENS")); err == nil && n > 0 {
		capText = "cap " + strconv.Itoa(n)
	}
	quota, waiting := "quota —", "waiting —"
	if st, ok := readStatus(env, now); ok {
		if st.TokensPerMinute > 0 {
			quota = "quota " + strconv.Itoa(min(st.Used*100/st.TokensPerMinute, 999)) + "% of " + shortCount(st.TokensPerMinute) + "/min"
		} else {
			quota = "quota " + shortCount(st.Used) + "/min"
		}
		waiting = strconv.Itoa(st.Waiting) + " waiting"
	}
	return strings.Join([]string{profile, capText, quota, waiting}, " · ")
}

// readStatus reads the session gateway's snapshot: absent when there is no
// governed session, no snapshot, a broken one, or a stale one.
func readStatus(env func(string) string, now time.Time) (gatewayspec.Status, bool) {
	var st gatewayspec.Status
	session := env(envSession)
	if session == "" || filepath.Base(session) != session || strings.HasPrefix(session, ".") {
		return st, false
	}
	f, err := os.Open(gatewayspec.StatusPath(runtimeDir(nil), session))
	if err != nil {
		return st, false
	}
	defer f.Close() // read-only
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return st, false
	}
	if now.Sub(st.Time) > gatewayspec.StatusMaxAge || st.Used < 0 || st.Waiting < 0 || st.TokensPerMinute < 0 {
		return st, false
	}
	return st, true
}

// shortCount writes a token count the way quotas are spoken of: 200k, 1.5M.
func shortCount(n int) string {
	switch {
	case n >= 1_000_000:
		return trimZero(strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64)) + "M"
	case n >= 1000:
		return trimZero(strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64)) + "k"
	}
	return strconv.Itoa(n)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// printable drops control characters: the line goes to Claude Code's screen.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
