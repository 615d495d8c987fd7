package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-cmp/cmp"
)

// The completion scripts are run in the real shells, with the built launcher
// on PATH as claude-bedrock and a throw-away HOME whose config defines the
// profile "mine" next to the built-ins.

const completionConfig = "[profiles.mine]\nmodel = \"sonnet\"\nregion = \"us-east-1\"\nmax_output_tokens = 2000\n"

var (
	allProfiles  = []string{"+code", "+large", "+light", "+mine"}
	allCommands  = []string{"+allow", "+completion", "+deny", "+doctor", "+env", "+help", "+profiles", "+status", "+use", "+version"}
	bareProfiles = []string{"code", "large", "light", "mine"}
)

// completionCase is a command line typed up to the cursor (after the command
// name) and the candidates the shell must offer there. A file named
// notes.txt sits in the working directory, so "file names" means notes.txt.
type completionCase struct {
	line string
	want []string
}

var completionCases = []completionCase{
	{"+", append(append([]string{}, allProfiles...), allCommands...)},
	{"+d", []string{"+deny", "+doctor"}},
	{"+m", []string{"+mine"}},
	{"+doctor +", allProfiles},
	{"+doctor --json +l", []string{"+large", "+light"}},
	{"+env ", bareProfiles},
	{"+use m", []string{"mine"}},
	{"+code ", []string{"notes.txt"}},
	{"-p ", []string{"notes.txt"}},
	{"no", []string{"notes.txt"}},
}

// completionWorld makes the HOME, the working directory and the
// environment for one shell run; config is the user's config file.
func completionWorld(t *testing.T, config string) (env []string, dir string) {
	t.Helper()
	env = testEnv(t, "report")
	for i, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			// launcherBin is named claude-bedrock; the fake claude stays off PATH.
			env[i] = "PATH=" + filepath.Dir(launcherBin) + ":/usr/bin:/bin"
		}
	}
	if config != "" {
		writeFile(t, filepath.Join(homeOf(env), ".config", "claude-bedrock", "config.toml"), config)
	}
	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, "notes.txt"), "")
	return env, dir
}

// needShell fails the test when shell is not installed.
func needShell(t *testing.T, shell string) string {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		t.Fatalf("%s is not installed: ./test.sh installs it (apt-get install -y zsh fish); %v", shell, err)
	}
	return path
}

// completionFile returns the launcher's own completion script for shell, saved in
// a file.
func completionFile(t *testing.T, env []string, shell string) string {
	t.Helper()
	out, errOut, code := runLauncher(t, env, "", "", "+completion", shell)
	if code != 0 || out == "" {
		t.Fatalf("+completion %s: exit %d, stderr %q", shell, code, errOut)
	}
	path := filepath.Join(t.TempDir(), shell+"-completion")
	writeFile(t, path, out)
	return path
}

// runShellOut runs a shell command with a deadline and returns its stdout.
func runShellOut(t *testing.T, env []string, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = env, dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\nstdout: %s\nstderr: %s", name, args, err, out.String(), errb.String())
	}
	return out.String()
}

// linesOf splits candidates, one a line, dropping fish's tab-separated
// descriptions, and sorts them so the comparison also catches duplicates.
func linesOf(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l, _, _ = strings.Cut(l, "\t")
		if l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func sortedWords(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// bashComplete looks up the function registered for the command name with
// complete -p, as bash does on TAB, calls it with COMP_WORDS and COMP_CWORD
// set, and prints COMPREPLY; an empty COMPREPLY falls back to file names
// (compgen -f) when the spec says -o default and the function did not turn
// it off with compopt +o default (compopt itself only works during a real
// completion, so a function stands in for it), as readline does.
const bashComplete = `source "$1"; shift
default=1
compopt() { [[ "$*" == "+o default" ]] && default=; }
spec=$(complete -p "$1") || exit 3
[[ $spec =~ -F\ ([^ ]+) ]] || exit 4
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"${BASH_REMATCH[1]}" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
if (( ${#COMPREPLY[@]} == 0 )) && [[ -n $default && $spec == *"-o default"* ]]; then
    COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
fi
printf '%s\n' "${COMPREPLY[@]}"
`

func bashCandidates(t *testing.T, env []string, dir, scriptPath, command, line string) []string {
	words := append([]string{command}, strings.Fields(line)...)
	if line == "" || strings.HasSuffix(line, " ") {
		words = append(words, "")
	}
	args := append([]string{"--norc", "--noprofile", "-c", bashComplete, "bash", scriptPath}, words...)
	return linesOf(runShellOut(t, env, dir, needShell(t, "bash"), args...))
}

func fishCandidates(t *testing.T, env []string, dir, scriptPath, command, line string) []string {
	const prog = `if set -q ALIAS; alias claude=claude-bedrock; end; source $argv[1]; complete -C"$argv[2]"`
	return linesOf(runShellOut(t, env, dir, needShell(t, "fish"), "--no-config", "-c", prog, scriptPath, command+" "+line))
}

// zshRC makes an interactive zsh capture what completion offers: compadd
// is wrapped to append every match it adds (after zsh's own matching against
// what is typed) to $CAP, and TAB empties $CAP, runs complete-word and then
// writes the marker --done-N--, N counting the TABs. With $FPATHDIR set the
// script is autoloaded from fpath as _claude-bedrock, else it is sourced
// after compinit. With $ALIAS set, claude is an alias of claude-bedrock.
const zshRC = `if [[ -n $FPATHDIR ]]; then fpath=($FPATHDIR $fpath); fi
autoload -U compinit; compinit -u -D
if [[ -z $FPATHDIR ]]; then source $SCRIPT; fi
if [[ -n $ALIAS ]]; then alias claude=claude-bedrock; fi
compadd() {
    if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi
    local -a __hits
    builtin compadd -A __hits "$@"
    (( $#__hits )) && print -rl -- $__hits >> $CAP
    builtin compadd "$@"
}
integer _cap_n=0
_cap_tab() { : >| $CAP; zle complete-word; print -r -- --done-$(( ++_cap_n ))-- >> $CAP }
zle -N _cap_tab; bindkey '^I' _cap_tab
`

// zshCandidates types each line after command into one interactive zsh (in
// a pty, as zle needs a terminal) and returns what TAB offered for each; one
// shell serves all lines because compinit alone takes about a second.
func zshCandidates(t *testing.T, env []string, dir, scriptPath, command string, lines []string, fromFpath bool) [][]string {
	t.Helper()
	tmp := t.TempDir()
	rc, capFile := filepath.Join(tmp, "rc.zsh"), filepath.Join(tmp, "capture")
	writeFile(t, rc, zshRC)
	env = append(env[:len(env):len(env)], "CAP="+capFile, "SCRIPT="+scriptPath)
	if fromFpath {
		fpathDir := filepath.Join(tmp, "fpath")
		data, err := os.ReadFile(scriptPath)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(fpathDir, "_claude-bedrock"), string(data))
		env = append(env, "FPATHDIR="+fpathDir)
	}
	cmd := exec.Command(needShell(t, "zsh"), "-f", "-i")
	cmd.Env, cmd.Dir = env, dir
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	var screen lockedBuffer
	go func() { _, _ = io.Copy(&screen, ptmx) }() // ends when the pty closes
	defer func() {
		_ = cmd.Process.Kill() // the shell has done its part
		_ = cmd.Wait()         // reaps it; its status does not matter
		_ = ptmx.Close()       // best effort: the shell is gone
	}()
	// zsh reads the first TAB only once the source command has run, when
	// the widget is bound; ^U clears what the previous completion left.
	typed := "source " + rc + "\n"
	var got [][]string
	for i, line := range lines {
		typed += "\x15" + command + " " + line + "\t"
		if _, err := ptmx.Write([]byte(typed)); err != nil {
			t.Fatal(err)
		}
		typed = ""
		marker := fmt.Sprintf("--done-%d--\n", i+1)
		deadline := time.Now().Add(20 * time.Second)
		for {
			data, err := os.ReadFile(capFile)
			if err == nil && strings.HasSuffix(string(data), marker) {
				got = append(got, linesOf(strings.TrimSuffix(string(data), marker)))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("zsh: no completion within 20s for %q; screen:\n%s", command+" "+line, screen.String())
			}
			time.Sleep(20 * time.Millisecond) // polling a file the shell writes, with the deadline above
		}
	}
	return got
}

// completers are the shells under test; each returns the sorted candidates
// offered for command followed by each of lines.
var completers = []struct {
	shell    string
	complete func(t *testing.T, env []string, dir, scriptPath, command string, lines []string) [][]string
}{
	{"bash", perLine(bashCandidates)},
	{"zsh", func(t *testing.T, env []string, dir, scriptPath, command string, lines []string) [][]string {
		return zshCandidates(t, env, dir, scriptPath, command, lines, false)
	}},
	{"zsh-fpath", func(t *testing.T, env []string, dir, scriptPath, command string, lines []string) [][]string {
		return zshCandidates(t, env, dir, scriptPath, command, lines, true)
	}},
	{"fish", perLine(fishCandidates)},
	// The alias users set: fish's alias wraps claude-bedrock, whose
	// completions then come twice unless fish merges them; zsh expands it.
	{"zsh-alias", withAlias(func(t *testing.T, env []string, dir, scriptPath, command string, lines []string) [][]string {
		return zshCandidates(t, env, dir, scriptPath, command, lines, false)
	})},
	{"fish-alias", withAlias(perLine(fishCandidates))},
}

// withAlias runs a completer with ALIAS set, which makes the test's shell
// setup define alias claude=claude-bedrock.
func withAlias(c func(*testing.T, []string, string, string, string, []string) [][]string) func(*testing.T, []string, string, string, string, []string) [][]string {
	return func(t *testing.T, env []string, dir, scriptPath, command string, lines []string) [][]string {
		return c(t, append(env[:len(env):len(env)], "ALIAS=1"), dir, scriptPath, command, lines)
	}
}

// perLine runs a one-line completer once per line.
func perLine(one func(t *testing.T, env []string, dir, scriptPath, command, line string) []string) func(*testing.T, []string, string, string, string, []string) [][]string {
	return func(t *testing.T, env []string, dir, scriptPath, command string, lines []string) [][]string {
		var got [][]string
		for _, line := range lines {
			got = append(got, one(t, env, dir, scriptPath, command, line))
		}
		return got
	}
}

func TestCompletionInRealShells(t *testing.T) {
	env, dir := completionWorld(t, completionConfig)
	for _, c := range completers {
		t.Run(c.shell, func(t *testing.T) {
			scriptPath := completionFile(t, env, strings.Split(c.shell, "-")[0])
			var typed []string
			for _, tc := range completionCases {
				typed = append(typed, tc.line)
			}
			for _, command := range []string{"claude-bedrock", "claude"} {
				got := c.complete(t, env, dir, scriptPath, command, typed)
				for i, tc := range completionCases {
					if diff := cmp.Diff(sortedWords(tc.want), got[i]); diff != "" {
						t.Errorf("%s: %q<TAB> offers (-want +got):\n%s", c.shell, command+" "+tc.line, diff)
					}
				}
			}
		})
	}
}

// TestCompletionWithBrokenConfig: a config that does not load still
// completes the commands, and completion prints no error into the shell.
func TestCompletionWithBrokenConfig(t *testing.T) {
	env, dir := completionWorld(t, "[profiles.x\n")
	for _, c := range completers {
		t.Run(c.shell, func(t *testing.T) {
			scriptPath := completionFile(t, env, strings.Split(c.shell, "-")[0])
			got := c.complete(t, env, dir, scriptPath, "claude", []string{"+", "+env "})
			if diff := cmp.Diff(allCommands, got[0]); diff != "" {
				t.Errorf("claude +<TAB> offers (-want +got):\n%s", diff)
			}
			if len(got[1]) != 0 {
				t.Errorf("claude +env <TAB> offers %q, want nothing", got[1])
			}
		})
	}
}

func TestCompleteWords(t *testing.T) {
	env, _ := completionWorld(t, completionConfig)
	out, errOut, code := runLauncher(t, env, "", "", "+complete-words")
	if code != 0 || errOut != "" {
		t.Fatalf("+complete-words: exit %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(append(append([]string{}, allProfiles...), allCommands...), strings.Fields(out)); diff != "" {
		t.Errorf("+complete-words (-want +got):\n%s", diff)
	}
	out, _, code = runLauncher(t, env, "", "", "+complete-words", "profiles")
	if diff := cmp.Diff(allProfiles, strings.Fields(out)); code != 0 || diff != "" {
		t.Errorf("+complete-words profiles: exit %d (-want +got):\n%s", code, diff)
	}
	_, errOut, code = runLauncher(t, env, "", "", "+complete-words", "nonsense")
	if code != 2 || !strings.Contains(errOut, "+complete-words takes") {
		t.Errorf("+complete-words nonsense: exit %d, stderr %q; want exit 2 and a usage message", code, errOut)
	}

	env, _ = completionWorld(t, "[profiles.x\n")
	out, errOut, code = runLauncher(t, env, "", "", "+complete-words")
	if diff := cmp.Diff(allCommands, strings.Fields(out)); code != 0 || errOut != "" || diff != "" {
		t.Errorf("+complete-words with a broken config: exit %d, stderr %q (-want +got):\n%s", code, errOut, diff)
	}
}

func TestCompletionCommand(t *testing.T) {
	env, _ := completionWorld(t, "")
	for _, shell := range completionShells {
		out, errOut, code := runLauncher(t, env, "", "", "+completion", shell)
		want, err := completionScript(shell)
		if err != nil || code != 0 || errOut != "" || out != want {
			t.Errorf("+completion %s: exit %d, stderr %q, err %v, printed the script: %v", shell, code, errOut, err, out == want)
		}
		// Both command names are registered, and the launcher is called by its own name.
		if !strings.Contains(want, "claude-bedrock claude") || !strings.Contains(want, "command claude-bedrock +complete-words") {
			t.Errorf("%s script does not register both names or call claude-bedrock:\n%s", shell, want)
		}
	}
	for _, args := range [][]string{{"+completion"}, {"+completion", "tcsh"}, {"+completion", "bash", "zsh"}} {
		_, errOut, code := runLauncher(t, env, "", "", args...)
		if code != 2 || !strings.Contains(errOut, "bash, zsh, fish") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming bash, zsh, fish", args, code, errOut)
		}
	}
}
