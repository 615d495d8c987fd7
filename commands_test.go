package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The launcher's own commands through the built binary: a project file is
// ignored until +allow, +profiles says which profile applies and why, +env
// prints its export lines, +use sets the default, +deny silences the file.
func TestCommandsThroughTheBinary(t *testing.T) {
	env := testEnv(t, "report")
	proj := t.TempDir()
	writeFile(t, filepath.Join(proj, ".claude-bedrock.toml"), "profile = \"large\"\nregion = \"eu-west-1\"\n")
	run := func(want string, args ...string) string {
		t.Helper()
		out, stderr, code := runLauncher(t, env, proj, "", args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		if !strings.Contains(out+stderr, want) {
			t.Fatalf("%q: no %q in:\n%s%s", args, want, out, stderr)
		}
		return out
	}
	run("is not trusted yet: run 'claude-bedrock +allow'", "+profiles")
	run("code applies here: chosen by built-in default", "+profiles")
	run("allowed "+filepath.Join(proj, ".claude-bedrock.toml"), "+allow")
	out := run("large applies here: chosen by "+filepath.Join(proj, ".claude-bedrock.toml")+" (trusted)", "+profiles")
	if !strings.Contains(out, "* large") || !strings.Contains(out, "region = eu-west-1 from") {
		t.Errorf("+profiles does not mark the project's profile and its override:\n%s", out)
	}
	out = run("export AWS_REGION=eu-west-1\n", "+env")
	want := "export CLAUDE_CODE_USE_BEDROCK=1\nexport AWS_REGION=eu-west-1\nexport ANTHROPIC_MODEL=opus\nexport CLAUDE_CODE_MAX_OUTPUT_TOKENS=8192\nexport CLAUDE_BEDROCK_PROFILE=large\n"
	if out != want {
		t.Errorf("+env:\n%s\nwant:\n%s", out, want)
	}
	run("denied", "+deny")
	run("code applies here", "+profiles")
	run("default profile is now light", "+use", "light")
	run("light applies here: chosen by default in", "+profiles")
	if _, stderr, code := runLauncher(t, env, proj, "", "+use", "nope"); code != 2 || !strings.Contains(stderr, `no profile "nope"`) {
		t.Errorf("+use nope: exit %d, %q", code, stderr)
	}
	if _, stderr, code := runLauncher(t, env, t.TempDir(), "", "+allow"); code != 2 || !strings.Contains(stderr, "no .claude-bedrock.toml in") {
		t.Errorf("+allow without a project file: exit %d, %q", code, stderr)
	}
}

// TestProfilesShowsTheLaunchWarnings: +profiles shows every warning a launch
// of a profile shows (a retired model, a cap above the model's ceiling, a
// model ID not in the table), in the same words.
func TestProfilesShowsTheLaunchWarnings(t *testing.T) {
	env := testEnv(t, "report")
	writeFile(t, filepath.Join(homeOf(env), ".config", "claude-bedrock", "config.toml"), `
[profiles.old]
model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
region = "us-west-2"
max_output_tokens = 100000

[profiles.new]
model = "us.anthropic.claude-future-9"
region = "us-west-2"
max_output_tokens = 4096
`)
	dir := t.TempDir()
	list, stderr, code := runLauncher(t, env, dir, "", "+profiles")
	if code != 0 {
		t.Fatalf("+profiles: exit %d: %s", code, stderr)
	}
	n := 0
	for _, name := range []string{"+old", "+new"} {
		_, stderr, code := runLauncher(t, env, dir, "", name, "-p", "x")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
			w, ok := strings.CutPrefix(line, "claude-bedrock: profile ")
			if !ok {
				continue
			}
			n++
			if !strings.Contains(list, "profile "+w+"\n") {
				t.Errorf("+profiles lacks the warning %q of a launch with %s:\n%s", w, name, list)
			}
		}
	}
	if n != 3 {
		t.Errorf("the launches showed %d warnings, want 3 (retired, above the ceiling, not in the table)", n)
	}
}

// A system config beneath the user's, through the binary: +profiles names
// both files and shows where each profile comes from, +use writes the
// user's file only, a broken system file stops the launch with its path, and
// an unreadable one only warns.
func TestSystemConfigThroughTheBinary(t *testing.T) {
	env := testEnv(t, "report")
	system := systemConfigPath(env)
	user := filepath.Join(homeOf(env), ".config", "claude-bedrock", "config.toml")
	const corp = "default = \"corp\"\n[profiles.corp]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 6000\n"
	writeFile(t, system, corp)
	dir := t.TempDir()
	out, stderr, code := runLauncher(t, env, dir, "", "+profiles")
	if code != 0 {
		t.Fatalf("+profiles: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"* corp     sonnet  us-east-1  6000  -            on        system    \n",
		"  light    haiku   us-west-2  1024  -            on        built-in  quick",
		"corp applies here: chosen by default in " + system + "\n",
		"config " + user + " (none yet: the built-in and system profiles apply)\nsystem config " + system + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("+profiles: no %q in:\n%s", want, out)
		}
	}
	if _, stderr, code := runLauncher(t, env, dir, "", "+use", "light"); code != 0 {
		t.Fatalf("+use light: exit %d: %s", code, stderr)
	}
	if b, err := os.ReadFile(system); err != nil || string(b) != corp {
		t.Errorf("+use changed the system file: %q, %v", b, err)
	}
	if b, err := os.ReadFile(user); err != nil || string(b) != "default = \"light\"\n" {
		t.Errorf("+use wrote %q to the user's file, %v", b, err)
	}

	writeFile(t, system, "[profiles.corp]\nmodel = \"sonnet\"\nmax_output_tokens = 6000\nregoin = \"us-east-1\"\n")
	_, stderr, code = runLauncher(t, env, dir, "", "-p", "hi")
	if want := "claude-bedrock: " + system + ":4: unknown key \"profiles.corp.regoin\""; code != 2 || !strings.HasPrefix(stderr, want) {
		t.Errorf("a broken system file: exit %d, stderr %q, want 2 and %q", code, stderr, want)
	}

	if err := os.Remove(system); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(system, 0o755); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runLauncher(t, env, dir, "", "-p", "hi")
	if want := "claude-bedrock: system config " + system + " is not read: is a directory"; code != 0 || !strings.HasPrefix(stderr, want) {
		t.Errorf("an unreadable system file: exit %d, stderr %q, want 0 and %q", code, stderr, want)
	}
	if r := readReport(t, env); r.Env["CLAUDE_BEDROCK_PROFILE"] != "light" {
		t.Errorf("profile %q, want the user's default light", r.Env["CLAUDE_BEDROCK_PROFILE"])
	}
}

// systemConfigPath is the system config file of a testEnv environment.
func systemConfigPath(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "XDG_CONFIG_DIRS="); ok {
			return filepath.Join(v, "claude-bedrock", "config.toml")
		}
	}
	return ""
}
