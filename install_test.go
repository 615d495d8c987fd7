package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGoBuild stands in for `go build [flags] -o OUT PKG` when install.sh
// runs it: it copies the binary TestMain built for PKG to OUT, so that the
// install test exercises the script, not a third build of the same code.
func fakeGoBuild() int {
	args := os.Args[1:]
	out := ""
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			out = args[i+1]
		}
	}
	if len(args) < 2 || args[0] != "build" || out == "" {
		fmt.Fprintf(os.Stderr, "fake go: unexpected %q\n", args)
		return 2
	}
	name := filepath.Base(args[len(args)-1]) // ./cmd/claude-bedrock-doctor
	if name == "." {
		name = "claude-bedrock"
	}
	src, err := os.Open(filepath.Join(os.Getenv("FAKE_GO_BIN_DIR"), name))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake go:", err)
		return 1
	}
	defer src.Close()
	dst, err := os.OpenFile(out, os.O_WRONLY|os.O_TRUNC, 0o755)
	if err == nil {
		_, err = io.Copy(dst, src)
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Chmod(out, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake go:", err)
		return 1
	}
	return 0
}

// TestInstallCompletionsBash runs install.sh --completions for bash, with
// and without bash-completion installed: with it, the script goes where
// bash-completion loads it; without it, an eval line goes into ~/.bashrc
// once, and the script says so. The line, run by a real bash, completes.
func TestInstallCompletionsBash(t *testing.T) {
	goDir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(goDir, "go")); err != nil {
		t.Fatal(err)
	}
	bash := needShell(t, "bash")
	install := func(t *testing.T, home, bashCompletion string) string {
		t.Helper()
		cmd := exec.Command(bash, "install.sh", "--completions")
		cmd.Env = []string{
			"HOME=" + home, "SHELL=/bin/bash", "PATH=" + goDir + ":/usr/bin:/bin",
			fakeEnv + "=go", "FAKE_GO_BIN_DIR=" + filepath.Dir(launcherBin),
			"CLAUDE_BEDROCK_BASH_COMPLETION_FILES=" + bashCompletion,
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("install.sh: %v\n%s", err, out.String())
		}
		return out.String()
	}

	t.Run("without bash-completion", func(t *testing.T) {
		home := t.TempDir()
		missing := filepath.Join(home, "no", "bash_completion")
		out := install(t, home, missing)
		if !strings.Contains(out, "bash-completion is not installed: added 'command -v claude-bedrock >/dev/null && eval \"$(claude-bedrock +completion bash)\"' to "+filepath.Join(home, ".bashrc")) {
			t.Errorf("install.sh does not say what it did:\n%s", out)
		}
		out = install(t, home, missing)
		if !strings.Contains(out, "the completion line is already in") {
			t.Errorf("second run:\n%s", out)
		}
		rc, err := os.ReadFile(filepath.Join(home, ".bashrc"))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(rc), "+completion bash"); n != 1 {
			t.Errorf("~/.bashrc holds the line %d times, want once:\n%s", n, rc)
		}
		if _, err := os.Stat(filepath.Join(home, ".local", "share", "bash-completion")); err == nil {
			t.Error("a completions folder nothing reads was written")
		}
		// The line, in a real bash with the installed launcher on PATH,
		// registers the completion for claude-bedrock and claude.
		check := exec.Command(bash, "--norc", "--noprofile", "-c", "source ~/.bashrc && complete -p claude-bedrock claude")
		check.Env = []string{"HOME=" + home, "PATH=" + filepath.Join(home, ".local", "bin") + ":/usr/bin:/bin"}
		got, err := check.CombinedOutput()
		if err != nil || strings.Count(string(got), "-F _claude_bedrock") != 2 {
			t.Errorf("after sourcing ~/.bashrc: %v\n%s", err, got)
		}
	})

	t.Run("with bash-completion", func(t *testing.T) {
		home := t.TempDir()
		present := filepath.Join(home, "bash_completion")
		writeFile(t, present, "# bash-completion\n")
		out := install(t, home, "/nonexistent:"+present)
		dir := filepath.Join(home, ".local", "share", "bash-completion", "completions")
		if !strings.Contains(out, "installed "+filepath.Join(dir, "claude-bedrock")+" (and claude) for bash-completion") {
			t.Errorf("install.sh output:\n%s", out)
		}
		for _, name := range []string{"claude-bedrock", "claude"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !strings.Contains(string(b), "complete -o default -F _claude_bedrock") {
				t.Errorf("%s: %v %.80q", name, err, b)
			}
		}
		if _, err := os.Stat(filepath.Join(home, ".bashrc")); err == nil {
			t.Error("~/.bashrc was written though bash-completion loads the script")
		}
	})
}
