package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/launcher"
)

func settingsOf(t *testing.T, r report) map[string]string {
	t.Helper()
	if len(r.Args) < 2 || r.Args[0] != "--settings" {
		t.Fatalf("claude's args do not start with --settings: %q", r.Args)
	}
	var s struct{ Env map[string]string }
	if err := json.Unmarshal([]byte(r.Args[1]), &s); err != nil {
		t.Fatal(err)
	}
	return s.Env
}

func TestArgumentsPassUnchangedAndInOrder(t *testing.T) {
	for _, args := range [][]string{
		{"-p", "hi there"},
		{"--resume"},
		{"mcp", "list"},
		{"doctor"},
		{"--model", "opus", "-p", "+not-a-profile", "--", "+x"},
		{},
	} {
		env := testEnv(t, "report")
		_, stderr, code := runLauncher(t, env, t.TempDir(), "", args...)
		if code != 0 {
			t.Fatalf("%q: exit %d, stderr %s", args, code, stderr)
		}
		r := readReport(t, env)
		if diff := cmp.Diff(args, r.Args[2:], cmpEmpty); diff != "" {
			t.Errorf("%q: claude's args after --settings (-want +got):\n%s", args, diff)
		}
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") })

func TestDoubleDashPassesPlusWords(t *testing.T) {
	env := testEnv(t, "report")
	if _, stderr, code := runLauncher(t, env, t.TempDir(), "", "--", "+light", "x"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := readReport(t, env)
	if diff := cmp.Diff([]string{"--", "+light", "x"}, r.Args[2:]); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if r.Env["CLAUDE_BEDROCK_PROFILE"] != "code" {
		t.Errorf("profile %q, want the default code", r.Env["CLAUDE_BEDROCK_PROFILE"])
	}
}

func TestProfileEnvironmentAndSettings(t *testing.T) {
	env := testEnv(t, "report", "ANTHROPIC_MODEL=opus", "CLAUDE_CODE_MAX_OUTPUT_TOKENS=64000", "KEEP_ME=yes", "AWS_PROFILE=mine")
	writeFile(t, filepath.Join(homeOf(env), ".config/claude-bedrock/config.toml"),
		"[profiles.eu]\nmodel = \"eu.anthropic.claude-sonnet-4-5-20250929-v1:0\"\nregion = \"eu-central-1\"\nmax_output_tokens = 3000\nsmall_fast_model = \"eu.anthropic.claude-haiku-4-5-20251001-v1:0\"\naws_profile = \"bedrock-eu\"\n"+
			"governor = false\n") // what the governor adds: governor_test.go
	if _, stderr, code := runLauncher(t, env, t.TempDir(), "", "+eu", "-p", "hi"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := readReport(t, env)
	want := map[string]string{
		"CLAUDE_CODE_USE_BEDROCK":       "1",
		"AWS_REGION":                    "eu-central-1",
		"ANTHROPIC_MODEL":               "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
		"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "3000",
		"ANTHROPIC_DEFAULT_HAIKU_MODEL": "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
		"AWS_PROFILE":                   "bedrock-eu",
		"CLAUDE_BEDROCK_PROFILE":        "eu",
	}
	// claude gets the launcher's mark; what claude runs gets it empty.
	wantSettings := map[string]string{launcher.StartedVar: ""}
	for k, v := range want {
		wantSettings[k] = v
	}
	if diff := cmp.Diff(wantSettings, settingsOf(t, r)); diff != "" {
		t.Errorf("--settings env (-want +got):\n%s", diff)
	}
	if !strings.HasSuffix(r.Env[launcher.StartedVar], ":0:"+filepath.Join(fakeDir, "claude")) {
		t.Errorf("env %s = %q, want the launcher's mark", launcher.StartedVar, r.Env[launcher.StartedVar])
	}
	for k, v := range want {
		if r.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, r.Env[k], v)
		}
	}
	if r.Env["KEEP_ME"] != "yes" {
		t.Errorf("the rest of the environment did not pass through")
	}
}

func TestUserSettingsAreMerged(t *testing.T) {
	env := testEnv(t, "report")
	dir := t.TempDir()
	runtimeDir := t.TempDir()
	env = append(env, "XDG_RUNTIME_DIR="+runtimeDir)
	file := filepath.Join(dir, "s.json")
	writeFile(t, file, `{"permissions":{"allow":["Bash(ls)"]},"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"999","FOO":"bar","AWS_BEARER_TOKEN_BEDROCK":"secret-in-a-file"}}`)
	inline := `{"permissions":{"allow":["Bash(ls)"]},"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"999","FOO":"bar"}}`
	for _, tt := range []struct {
		args     []string
		fromFile bool
	}{
		{[]string{"--settings", file, "-p", "x"}, true},
		{[]string{"-p", "x", "--settings=" + file}, true},
		{[]string{"--settings", inline, "-p", "x"}, false},
	} {
		if _, stderr, code := runLauncher(t, env, dir, "", tt.args...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		r := readReport(t, env)
		n := 0
		for i, a := range r.Args {
			if a != "--settings" {
				continue
			}
			n++
			text := r.Args[i+1]
			if tt.fromFile {
				// The merged settings of a file go to a private file, not
				// onto the command line, where ps would show them to all.
				if strings.Contains(strings.Join(r.Args, " "), "secret-in-a-file") {
					t.Errorf("the settings file's content is on claude's command line: %q", r.Args)
				}
				if filepath.Dir(text) != filepath.Join(runtimeDir, "claude-bedrock") || r.SettingsMode != 0o600 {
					t.Errorf("settings file %s, mode %v: want a 0600 file in $XDG_RUNTIME_DIR/claude-bedrock", text, r.SettingsMode)
				}
				if _, err := os.Stat(text); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("settings file %s still there after the launcher exited: %v", text, err)
				}
				text = r.SettingsFile
			}
			var s struct {
				Permissions map[string][]string
				Env         map[string]string
			}
			if err := json.Unmarshal([]byte(text), &s); err != nil {
				t.Fatalf("%q: %v", tt.args, err)
			}
			if s.Env["FOO"] != "bar" || s.Env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] != "999" || s.Env["AWS_REGION"] != "us-west-2" || len(s.Permissions["allow"]) != 1 {
				t.Errorf("%q: merged settings %s", tt.args, text)
			}
		}
		if n != 1 || !contains(r.Args, "-p") {
			t.Errorf("args %q: want exactly one --settings and the user's flags", r.Args)
		}
	}
	// An $XDG_RUNTIME_DIR that cannot hold a file (gone, another user's
	// after su): the temp folder does.
	stale := append(append([]string{}, env...), "XDG_RUNTIME_DIR="+filepath.Join(dir, "gone"))
	if _, stderr, code := runLauncher(t, stale, dir, "", "--settings", file, "-p", "x"); code != 0 {
		t.Errorf("with a stale XDG_RUNTIME_DIR: exit %d: %s", code, stderr)
	} else if r := readReport(t, stale); !strings.Contains(r.SettingsFile, "secret-in-a-file") || r.SettingsMode != 0o600 {
		t.Errorf("with a stale XDG_RUNTIME_DIR: settings file %q, mode %v", r.SettingsFile, r.SettingsMode)
	}
	_, stderr, code := runLauncher(t, env, dir, "", "--settings", filepath.Join(dir, "missing.json"))
	if code != 2 || !strings.Contains(stderr, "missing.json") {
		t.Errorf("missing --settings file: exit %d, stderr %q", code, stderr)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestBadInputRunsNothing(t *testing.T) {
	tests := []struct {
		name, config string
		args         []string
		env          []string
		want         string
	}{
		{"unknown plus word", "", []string{"+nope"}, nil, "claude-bedrock: +nope is neither a profile nor a command; profiles: code, large, light; commands:"},
		{"malformed toml", "[profiles.x\n", nil, nil, "config.toml:1: expected ']' to close table name"},
		{"typo in key", "[profiles.code]\nmodel = \"sonnet\"\nregion = \"us-west-2\"\nmax_output_token = 4096\n", nil, nil, `config.toml:4: unknown key "profiles.code.max_output_token"`},
		{"bad env cap", "", nil, []string{"CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS=4k"}, `CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS: "4k" is not a whole number of tokens`},
		{"unknown env profile", "", nil, []string{"CLAUDE_BEDROCK_PROFILE=big"}, `no profile "big" (chosen by CLAUDE_BEDROCK_PROFILE in the environment); known profiles: code, large, light`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t, "report", tt.env...)
			if tt.config != "" {
				writeFile(t, filepath.Join(homeOf(env), ".config/claude-bedrock/config.toml"), tt.config)
			}
			_, stderr, code := runLauncher(t, env, t.TempDir(), "", tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
			if _, err := os.Stat(filepath.Join(homeOf(env), "report.json")); err == nil {
				t.Error("claude ran despite the error")
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	env := testEnv(t, "report", "FAKE_EXIT=3")
	if _, _, code := runLauncher(t, env, t.TempDir(), "", "-p", "x"); code != 3 {
		t.Errorf("claude exit 3: launcher exit %d", code)
	}
	env = testEnv(t, "crash")
	if _, _, code := runLauncher(t, env, t.TempDir(), ""); code != 128+int(syscall.SIGKILL) {
		t.Errorf("claude died of SIGKILL: launcher exit %d, want %d", code, 128+int(syscall.SIGKILL))
	}
}

func TestClaudeNotFound(t *testing.T) {
	env := testEnv(t, "report")
	env[1] = "PATH=/nonexistent"
	_, stderr, code := runLauncher(t, env, t.TempDir(), "")
	if code != 127 || !strings.Contains(stderr, "npm install -g @anthropic-ai/claude-code") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	dir := t.TempDir()
	notExec := filepath.Join(dir, "claude")
	writeFile(t, notExec, "not a program")
	_, stderr, code = runLauncher(t, append(env, "CLAUDE_BEDROCK_CLAUDE="+notExec), dir, "")
	if code != 126 || !strings.Contains(stderr, notExec+" is not an executable file") {
		t.Errorf("not executable: exit %d, stderr %q", code, stderr)
	}
}

func TestNoLoopThroughALinkNamedClaude(t *testing.T) {
	// The user linked claude -> claude-bedrock and put it first on PATH.
	env := testEnv(t, "report")
	loop := t.TempDir()
	if err := os.Symlink(launcherBin, filepath.Join(loop, "claude")); err != nil {
		t.Fatal(err)
	}
	env[1] = "PATH=" + loop + ":" + fakeDir + ":/usr/bin:/bin"
	cmd := filepath.Join(loop, "claude") // run as "claude", the way the link is used
	out, err := runAs(t, cmd, env, "-p", "x")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r := readReport(t, env); r.Env["CLAUDE_BEDROCK_PROFILE"] != "code" {
		t.Errorf("the fake claude ran without the profile: %v", r.Env["CLAUDE_BEDROCK_PROFILE"])
	}
}

func TestPipesPassBytesUntouched(t *testing.T) {
	env := testEnv(t, "echo")
	var in strings.Builder
	for i := 0; in.Len() < 1<<20; i++ {
		in.WriteString("line\r\n\x00\x1b[31m{\"type\":\"user\"}\xff\n")
	}
	out, stderr, code := runLauncher(t, env, t.TempDir(), in.String())
	if code != 0 || out != in.String() {
		t.Fatalf("exit %d, %d bytes out of %d in", code, len(out), in.Len())
	}
	if !strings.Contains(stderr, "eof after 1") {
		t.Errorf("end of input did not reach claude: %q", stderr)
	}
}

func TestSignalsAreRelayedWithoutATerminal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
		env := testEnv(t, "hang")
		cmd := execLauncher(env)
		out := &lockedBuffer{}
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, out, "hanging")
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		code := waitCmd(t, cmd, 10*time.Second)
		if code != 128+int(sig) {
			t.Errorf("%v: exit %d, want %d", sig, code, 128+int(sig))
		}
	}
}
