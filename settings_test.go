package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	quotagov "github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
)

// Claude Code keeps only the last --settings it is given: every one the
// user passes is merged, in order, with the profile's, and claude gets one.
func TestEverySettingsIsMerged(t *testing.T) {
	env := testEnv(t, "report")
	dir := t.TempDir()
	a := filepath.Join(dir, "a.json")
	b := filepath.Join(dir, "b.json")
	writeFile(t, a, `{"permissions":{"allow":["Bash(ls)"]},"model":"from-a","env":{"FOO":"a","ONLY_A":"1"}}`)
	writeFile(t, b, `{"permissions":{"allow":["Bash(pwd)"],"deny":["Bash(rm)"]},"env":{"FOO":"b"}}`)
	inline := `{"model":"from-inline","env":{"INLINE":"1"}}`
	args := []string{"-p", "x", "--settings", a, "--verbose", "--settings=" + b, "--settings", inline}
	if _, stderr, code := runLauncher(t, env, dir, "", args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := readReport(t, env)
	var rest []string
	n := 0
	for i := 0; i < len(r.Args); i++ {
		if r.Args[i] == "--settings" {
			n, i = n+1, i+1
			continue
		}
		rest = append(rest, r.Args[i])
	}
	if n != 1 {
		t.Fatalf("claude got %d --settings, want 1: %q", n, r.Args)
	}
	if diff := cmp.Diff([]string{"-p", "x", "--verbose"}, rest); diff != "" {
		t.Errorf("claude's other args (-want +got):\n%s", diff)
	}
	var got struct {
		Model       string
		Permissions map[string][]string
		Env         map[string]string
	}
	if err := json.Unmarshal([]byte(r.SettingsFile), &got); err != nil {
		t.Fatalf("merged settings %q: %v", r.SettingsFile, err)
	}
	if got.Model != "from-inline" {
		t.Errorf("model %q: the last --settings wins a key", got.Model)
	}
	if diff := cmp.Diff(map[string][]string{"allow": {"Bash(ls)", "Bash(pwd)"}, "deny": {"Bash(rm)"}}, got.Permissions); diff != "" {
		t.Errorf("permissions: lists are merged (-want +got):\n%s", diff)
	}
	for k, v := range map[string]string{"FOO": "b", "ONLY_A": "1", "INLINE": "1", "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "4096", "AWS_REGION": "us-west-2"} {
		if got.Env[k] != v {
			t.Errorf("env %s = %q, want %q (merged env: %v)", k, got.Env[k], v, got.Env)
		}
	}
}

// The issue as found: two --settings and a cap in ~/.claude/settings.json;
// the real Claude Code must still send the profile's cap.
func TestRealClaudeTwoSettingsKeepTheProfilesCap(t *testing.T) {
	w := newCleanWorld(t)
	claudetest.WriteJSON(t, w.home, ".claude/settings.json", map[string]any{"env": map[string]string{"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "32000"}})
	a := claudetest.WriteJSON(t, w.dir, "a.json", map[string]any{"permissions": map[string]any{"allow": []string{"Bash(ls)"}}})
	b := claudetest.WriteJSON(t, w.dir, "b.json", map[string]any{"env": map[string]string{"SOMETHING": "else"}})
	for _, args := range [][]string{
		{"-p", "x", "--settings", a, "--settings", b},
		{"-p", "x", "--settings=" + a, "--settings=" + b},
		{"-p", "x", "--settings", a, "--settings", `{"env":{"SOMETHING":"else"}}`},
	} {
		before := len(w.fake.Turns())
		out, stderr, code := runLauncher(t, w.env, w.dir, "", args...)
		if code != 0 || !strings.Contains(out, fakebedrock.DefaultReply) {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
		turns := w.fake.Turns()[before:]
		if len(turns) == 0 {
			t.Fatalf("%q: no turn reached the fake: %s", args, fakebedrock.Summary(w.fake.Requests()))
		}
		for _, turn := range turns {
			if turn.MaxTokens != 4096 {
				t.Errorf("%q: max_tokens %d on the wire, want the profile's 4096", args, turn.MaxTokens)
			}
		}
	}
}

// The merged settings file holds what the user's --settings file held,
// secrets included. It lives in $XDG_RUNTIME_DIR (private, in memory,
// emptied at logout), and when a launcher is killed before it can remove
// it, the next launch does.
func TestSettingsFileOfAKilledLauncherIsRemoved(t *testing.T) {
	runtimeDir := t.TempDir()
	env := testEnv(t, "hang", "XDG_RUNTIME_DIR="+runtimeDir)
	dir := t.TempDir()
	file := filepath.Join(dir, "s.json")
	writeFile(t, file, `{"env":{"AWS_SECRET_ACCESS_KEY":"secret-in-a-file"}}`)

	cmd := exec.Command(launcherBin, "--settings", file, "-p", "x")
	cmd.Env, cmd.Dir = env, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // to kill the fake claude too
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // best effort: the test may have failed first
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "hanging\n" {
		t.Fatalf("the fake claude said %q, %v", line, err)
	}
	private := filepath.Join(runtimeDir, "claude-bedrock")
	left, _ := filepath.Glob(filepath.Join(private, "settings-*.json"))
	if len(left) != 1 {
		t.Fatalf("settings files in %s while claude runs: %q; want one", private, left)
	}
	if fi, err := os.Stat(private); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: %v, %v; want a folder only the user can open", private, fi.Mode(), err)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed, as meant
	if _, err := os.Stat(left[0]); err != nil {
		t.Fatalf("after kill -9 the settings file is gone already (%v): the test shows nothing", err)
	}
	// A file of a launcher still running stays.
	live := filepath.Join(private, fmt.Sprintf("settings-%d-1.json", os.Getpid()))
	writeFile(t, live, "{}")

	// Any next launch, with or without --settings, removes what is left.
	report := testEnv(t, "report", "XDG_RUNTIME_DIR="+runtimeDir)
	if _, stderr, code := runLauncher(t, report, dir, "", "-p", "x"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(left[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the killed launcher's settings file %s is still there after the next launch (%v)", left[0], err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a running launcher's settings file was removed: %v", err)
	}
}

// TestOneRuntimeFolder: the merged settings file, the status snapshot
// +statusline reads and the ledger +status reads are in one folder,
// whatever XDG_RUNTIME_DIR is: a folder of the user's, unset (xdg's
// /run/user/UID, used if it is there), gone, or not writable (then the
// temp folder's claude-bedrock-UID).
func TestOneRuntimeFolder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the launcher's, and this test's for gatewayspec.RuntimeDir below
	fallback := filepath.Join(tmp, "claude-bedrock-"+strconv.Itoa(os.Getuid()))
	usable := t.TempDir()
	readOnly := t.TempDir()
	if err := os.Chmod(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(readOnly, 0o700) }) // so that t.TempDir can remove it
	settings := filepath.Join(t.TempDir(), "s.json")
	writeFile(t, settings, `{"env":{"FOO":"bar"}}`)
	for _, tc := range []struct {
		name, xdgRuntimeDir, want string
	}{
		{"a folder of the user's", usable, filepath.Join(usable, "claude-bedrock")},
		{"unset", "", gatewayspec.RuntimeDir(filepath.Join("/run/user", strconv.Itoa(os.Getuid())))},
		{"gone", filepath.Join(usable, "gone"), fallback},
		{"not writable", readOnly, fallback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, "report", "TMPDIR="+tmp)
			if tc.xdgRuntimeDir != "" {
				env = append(env, "XDG_RUNTIME_DIR="+tc.xdgRuntimeDir)
			}
			if _, stderr, code := runLauncher(t, env, "", "", "--settings", settings, "-p", "x"); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			r := readReport(t, env)
			if i := slices.Index(r.Args, "--settings"); i < 0 || filepath.Dir(r.Args[i+1]) != tc.want || !strings.Contains(r.SettingsFile, "bar") {
				t.Errorf("claude's arguments %q: want a settings file in %s", r.Args, tc.want)
			}

			session := fmt.Sprintf("one-folder-%d", os.Getpid())
			snapshot := gatewayspec.StatusPath(tc.want, session)
			t.Cleanup(func() { _ = os.Remove(snapshot) })
			writeFile(t, snapshot, string(statusJSON(t, gatewayspec.Status{Time: time.Now(), TokensPerMinute: 200000, Used: 70000})))
			cmd := exec.Command(launcherBin, "+statusline")
			cmd.Env = append(env, envSession+"="+session)
			if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "quota 35% of 200k/min") {
				t.Errorf("+statusline = %q, %v; want the snapshot in %s", out, err, tc.want)
			}

			l, err := quotagov.OpenLedger(gatewayspec.LedgerDir(tc.want))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close() // removes this session's files
			now := time.Now()
			if err := l.Publish(quotagov.State{PID: os.Getpid(), Time: now, Buckets: []quotagov.BucketState{{
				Bucket: quotagov.Bucket{Region: "us-west-2", Model: "one-folder", Kind: "global"},
				Limits: quotagov.Limits{TokensPerMinute: 50000, Source: "profile"}, Day: now.Format(time.DateOnly),
			}}}); err != nil {
				t.Fatal(err)
			}
			if out, stderr, code := runLauncher(t, env, "", "", "+status", "--json"); code != 0 || !strings.Contains(out, `"one-folder"`) {
				t.Errorf("+status --json: exit %d, %s%s; want the ledger in %s", code, out, stderr, tc.want)
			}
		})
	}
}
