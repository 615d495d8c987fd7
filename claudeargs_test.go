package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
)

func TestClassifyClaudeArgs(t *testing.T) {
	tests := []struct {
		args []string
		want sessionKind
	}{
		{nil, chatSession},
		{[]string{"fix the tests"}, chatSession},
		{[]string{"--model", "opus", "--resume"}, chatSession},
		{[]string{"--add-dir", "a", "b", "-c"}, chatSession},
		{[]string{"-p", "hi"}, printSession},
		{[]string{"--print", "--output-format", "stream-json"}, printSession},
		{[]string{"mcp", "list"}, otherCommand},
		{[]string{"--debug", "doctor"}, chatSession}, // --debug takes "doctor" as its filter, as commander does
		{[]string{"doctor"}, otherCommand},
		{[]string{"edit-permission-rules"}, otherCommand}, // hidden from --help
		{[]string{"project", "--help"}, otherCommand},
		{[]string{"--version"}, otherCommand},
		{[]string{"--", "-p"}, chatSession},
		{[]string{"--add-dir", "-p"}, chatSession}, // "-p" is a directory, as commander takes it
		// -p after a subcommand's name: claude defines no subcommands then.
		{[]string{"mcp", "list", "-p"}, printSession},
		{[]string{"doctor", "--teammate-mode", "auto", "--print"}, printSession},
		{[]string{"mcp", "list", "--", "-p"}, otherCommand},
		{[]string{"mcp", "--help", "-p"}, otherCommand},
		// Options --help hides take their values too.
		{[]string{"--teammate-mode", "auto", "mcp", "list"}, otherCommand},
		{[]string{"--system-prompt-file", "f.md", "doctor"}, otherCommand},
		{[]string{"--init-only", "doctor"}, otherCommand},
		{[]string{"--agent-name", "doctor"}, chatSession},
		{[]string{"--channels", "a", "b", "mcp"}, chatSession},
		{[]string{"--thinking", "enabled", "fix the tests"}, chatSession},
		{[]string{"--max-turns", "3", "-p", "hi"}, printSession},
		// An option the table does not know takes the next word unless it
		// starts with "-": right for one with a value, wrong (a chat, not
		// the subcommand) for a flag in front of a subcommand.
		{[]string{"--new-option", "x", "mcp", "list"}, otherCommand},
		{[]string{"--new-option", "-p", "hi"}, printSession},
		{[]string{"--new-flag", "mcp", "list"}, chatSession},
	}
	for _, tt := range tests {
		if got := classifyClaudeArgs(tt.args); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestRelaunchArgs(t *testing.T) {
	tests := []struct {
		args    []string
		session string
		want    []string
	}{
		{nil, "", []string{"--continue"}},
		{[]string{"fix the tests"}, "", []string{"--continue"}},
		{[]string{"--model", "opus", "fix it", "--verbose"}, "", []string{"--model", "opus", "--verbose", "--continue"}},
		{[]string{"-c", "--permission-mode", "plan"}, "", []string{"--permission-mode", "plan", "--continue"}},
		{[]string{"--resume", "abc-123", "--add-dir", "x", "y"}, "", []string{"--add-dir", "x", "y", "--resume", "abc-123"}},
		{[]string{"-r", "abc", "hello"}, "0f1e2d3c-aaaa-bbbb-cccc-000000000000", []string{"--resume", "0f1e2d3c-aaaa-bbbb-cccc-000000000000"}},
		{[]string{"--model=opus", "--", "-p is a prompt"}, "", []string{"--model=opus", "--continue"}},
		{[]string{"--settings", "{}", "--session-id", "u", "go"}, "", []string{"--settings", "{}", "--continue"}},
		// <x...> takes its first word whatever it is, as commander does.
		{[]string{"--add-dir", "--resume", "x", "-c"}, "", []string{"--add-dir", "--resume", "x", "--continue"}},
		{[]string{"--tools", "-", "go"}, "", []string{"--tools", "-", "go", "--continue"}},
		// Options --help hides keep their values; the prompt still goes.
		{[]string{"--append-system-prompt-file", "p.md", "--thinking", "disabled", "fix it"}, "",
			[]string{"--append-system-prompt-file", "p.md", "--thinking", "disabled", "--continue"}},
		{[]string{"--channels", "a", "b", "-c", "--rc", "desk", "go"}, "", []string{"--channels", "a", "b", "--rc", "desk", "--continue"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, relaunchArgs(tt.args, tt.session)); diff != "" {
			t.Errorf("%q: (-want +got)\n%s", tt.args, diff)
		}
	}
}

// TestRelaunchKeepsHiddenOptionValues: an option --help does not show keeps
// its value on a relaunch. Dropping it left "--teammate-mode --resume <id>",
// which claude refuses, and the conversation ended instead of continuing.
func TestRelaunchKeepsHiddenOptionValues(t *testing.T) {
	id := "7062f245-4784-4409-8fcf-0a85f1a805a0"
	for _, opt := range []string{"--teammate-mode", "--thinking", "--append-system-prompt-file"} {
		got := relaunchArgs([]string{opt, "x"}, id)
		if diff := cmp.Diff([]string{opt, "x", "--resume", id}, got); diff != "" {
			t.Errorf("(-want +got)\n%s", diff)
		}
	}
}

// TestRelaunchKeepsUnknownOptionValues: an option the table does not know (a
// newer claude's) keeps the word after it unless that word starts with "-",
// so a value is never lost; at worst a word of the prompt is repeated.
func TestRelaunchKeepsUnknownOptionValues(t *testing.T) {
	id := "7062f245-4784-4409-8fcf-0a85f1a805a0"
	tests := []struct {
		args, want []string
	}{
		{[]string{"--new-option", "x"}, []string{"--new-option", "x", "--resume", id}},
		{[]string{"--new-option", "x", "fix it"}, []string{"--new-option", "x", "--resume", id}},
		{[]string{"--new-option", "-"}, []string{"--new-option", "-", "--resume", id}},
		{[]string{"--new-option=x", "fix it"}, []string{"--new-option=x", "--resume", id}},
		{[]string{"--new-flag", "--verbose", "fix it"}, []string{"--new-flag", "--verbose", "--resume", id}},
		{[]string{"--new-flag", "-c"}, []string{"--new-flag", "--resume", id}},
		{[]string{"fix it", "--new-flag"}, []string{"--new-flag", "--resume", id}},
		{[]string{"--new-flag", "fix it"}, []string{"--new-flag", "fix it", "--resume", id}}, // the prompt, repeated
		{[]string{"--new-option", "x", "--", "fix it"}, []string{"--new-option", "x", "--resume", id}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, relaunchArgs(tt.args, id)); diff != "" {
			t.Errorf("%q: (-want +got)\n%s", tt.args, diff)
		}
	}
}

// TestClaudeArgsTableMatchesTheCLI keeps the option table honest: it must
// list exactly the options the pinned Claude Code defines, hidden ones
// included, each with the kind of value it takes, and exactly the commands
// its --help shows. An option missing from the table loses its value on a
// relaunch, so a new pinned version with new options fails here.
func TestClaudeArgsTableMatchesTheCLI(t *testing.T) {
	bin := claudetest.Binary(t)
	shown, cmds := helpOptionsAndCommands(t, bin)
	defined := binaryOptions(t, bin)
	want := map[string]argKind{}
	for name, kind := range defined {
		want[name] = kind
	}
	for name, kind := range shown {
		d, ok := defined[name]
		switch {
		case !ok && name != "-v" && name != "--version": // .version() takes its flags apart from the others
			t.Errorf("--help shows %s, but binaryOptions did not find it: it no longer reads this claude right", name)
		case ok && d != kind:
			t.Errorf("%s: --help shows kind %v, the binary defines kind %v", name, kind, d)
		}
		want[name] = kind
	}
	if diff := cmp.Diff(claudeOptions, want); diff != "" {
		t.Errorf("options (-table +claude):\n%s", diff)
	}
	var tableCmds []string
	for c := range claudeCommands {
		tableCmds = append(tableCmds, c)
	}
	cmds = append(cmds, hiddenCommands...)
	sort.Strings(tableCmds)
	sort.Strings(cmds)
	if diff := cmp.Diff(tableCmds, cmds); diff != "" {
		t.Errorf("commands (-table +claude --help and the hidden ones):\n%s", diff)
	}
	// What --help hides, claude must still take for a subcommand: asked
	// for its help, each names itself in its usage line.
	for _, c := range hiddenCommands {
		cmd := exec.Command(bin, c, "--help")
		cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		if want := "Usage: claude " + c + " "; err != nil || !strings.Contains(string(out), want) {
			t.Errorf("claude %s --help: %v, output %q; want %q in it: not a subcommand of this claude", c, err, out, want)
		}
	}
}

// hiddenCommands are the subcommands of the pinned claude that --help does
// not show (found in its bundled JavaScript as .command("…") on the main
// command; remote-control, behind a feature gate, is not one here).
var hiddenCommands = []string{
	"design-login", "edit-chrome-settings", "edit-hook", "edit-memory-settings", "edit-permission-rules",
	"edit-sandbox-settings", "edit-skill-overrides", "import-conversations", "project", "sandbox",
	"workspace-trust", "worktree-hook",
}

// helpOptionsAndCommands returns the options claude --help shows, each with
// the kind of value it takes, and the commands it shows.
func helpOptionsAndCommands(t *testing.T, bin string) (map[string]argKind, []string) {
	t.Helper()
	cmd := exec.Command(bin, "--help")
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "COLUMNS=200"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("claude --help: %v", err)
	}
	help := string(out)
	optLine := regexp.MustCompile(`(?m)^  (-[-A-Za-z, ]+?)(?: ([<\[][^>\]]+[>\]]))?(?:  |$)`)
	got := map[string]argKind{}
	opts, cmds, _ := strings.Cut(help, "\nCommands:")
	for _, m := range optLine.FindAllStringSubmatch(opts, -1) {
		kind, ok := kindOf(m[2])
		if !ok {
			t.Errorf("--help: %s takes %s, a kind the table has no name for", m[1], m[2])
		}
		for _, name := range strings.Split(m[1], ", ") {
			got[strings.TrimSpace(name)] = kind
		}
	}
	var gotCmds []string
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z][a-z|-]*)`).FindAllStringSubmatch(cmds, -1) {
		gotCmds = append(gotCmds, strings.Split(m[1], "|")...)
	}
	return got, gotCmds
}

// kindOf reads a commander.js value placeholder: "" (none), "<x>", "[x]" or
// "<x...>". It reports false for one the table has no kind for ("[x...]").
func kindOf(placeholder string) (argKind, bool) {
	switch v := placeholder; {
	case v == "":
		return noValue, true
	case strings.HasSuffix(v, "...]"):
		return variadicValue, false
	case strings.HasSuffix(v, "...>"):
		return variadicValue, true
	case strings.HasPrefix(v, "<"):
		return requiredValue, true
	}
	return optionalValue, true
}

// binaryOptions returns every option claude's main command defines, hidden
// ones included, read from the pinned binary. Claude Code is a Bun
// executable whose JavaScript is in the file as text, and its main command is
// one commander.js chain that starts at .name("claude") and runs to the end
// of its module, e.g.
//
//	o.name("claude")...option("--debug-file <path>","...")...
//	o.addOption(new ms("--teammate-mode <mode>","...").choices([...]).hideHelp())
//	o.addOption(new ms(dDi,"...").hideHelp())  // var dDi="--ignore-persisted-trust"
//
// where ms is commander's Option under a minified name, found here, not
// assumed. The reading fails the test, never guesses, when the code does not
// look like that any more. -v, --version is set apart by .version() and is
// not found here.
func binaryOptions(t *testing.T, bin string) map[string]argKind {
	t.Helper()
	data := mapFile(t, bin)
	anchor := []byte(`.name("claude").description(`)
	start := bytes.Index(data, anchor)
	if start < 0 {
		t.Fatalf("%s: no %s: the main command is built some other way now", bin, anchor)
	}
	if bytes.Contains(data[start+len(anchor):], anchor) {
		t.Fatalf("%s: %s twice: cannot tell which is the main command", bin, anchor)
	}
	end := bytes.Index(data[start:], []byte("\nexport{"))
	if end < 0 || end > 1<<20 {
		t.Fatalf("%s: the module that builds the main command has no end within 1 MB", bin)
	}
	chain := string(data[start : start+end])
	if strings.Contains(chain, ".command(") {
		t.Fatalf("%s: subcommands are built beside the main command now: their options would be taken for its", bin)
	}

	classes := map[string]bool{}
	for _, m := range regexp.MustCompile(`\.addOption\(new ([\w$]+)\(`).FindAllStringSubmatch(chain, -1) {
		classes[m[1]] = true
	}
	if len(classes) != 1 {
		t.Fatalf("%s: want one Option class in .addOption(new X(...)), found %v", bin, classes)
	}
	var class string
	for c := range classes {
		class = c
	}
	calls := regexp.MustCompile(`new ` + regexp.QuoteMeta(class) + `\(|\.(?:option|requiredOption|helpOption)\(`)
	def := regexp.MustCompile(`(?:new ` + regexp.QuoteMeta(class) + `\(|\.(?:option|requiredOption|helpOption)\()(?:"([^"]*)"|([\w$]+)[,)])`)
	flagsRe := regexp.MustCompile(`^(-[\w-]*(?:, ?-[\w-]+)*)(?: ([<\[][^<>\[\]]*[>\]]))?$`)
	if n, m := len(calls.FindAllStringIndex(chain, -1)), len(def.FindAllStringIndex(chain, -1)); n != m {
		t.Fatalf("%s: %d options defined, %d of them with flags this test can read", bin, n, m)
	}
	got := map[string]argKind{}
	for _, m := range def.FindAllStringSubmatch(chain, -1) {
		flags := m[1]
		if m[2] != "" {
			flags = stringVar(t, data, m[2])
		}
		f := flagsRe.FindStringSubmatch(flags)
		if f == nil {
			t.Errorf("%s: cannot read the option flags %q", bin, flags)
			continue
		}
		kind, ok := kindOf(f[2])
		if !ok {
			t.Errorf("%s: %s takes %s, a kind the table has no name for", bin, f[1], f[2])
		}
		for _, name := range regexp.MustCompile(`, ?`).Split(f[1], -1) {
			if k, dup := got[name]; dup && k != kind {
				t.Errorf("%s: %s defined twice, with kinds %v and %v", bin, name, k, kind)
			}
			got[name] = kind
		}
	}
	return got
}

// stringVar returns the string a minified variable holds, e.g. "--x" for
// name dDi and var dDi="--x" somewhere in data. Minified names are reused
// from module to module, so it fails unless exactly one "-..." string is
// assigned to name.
func stringVar(t *testing.T, data []byte, name string) string {
	t.Helper()
	needle := []byte(name + `="-`)
	values := map[string]bool{}
	for i := 0; ; {
		j := bytes.Index(data[i:], needle)
		if j < 0 {
			break
		}
		at := i + j
		i = at + len(needle)
		if at > 0 && isIdentByte(data[at-1]) {
			continue // the end of a longer name
		}
		if k := bytes.IndexByte(data[i:], '"'); k >= 0 && k < 200 {
			values["-"+string(data[i:i+k])] = true
		}
	}
	if len(values) != 1 {
		t.Fatalf("option flags in variable %s: want one string assigned to it, found %v", name, values)
	}
	for v := range values {
		return v
	}
	return ""
}

func isIdentByte(b byte) bool {
	return b == '_' || b == '$' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// mapFile maps the file at path into memory, read-only, for the test.
func mapFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // read-only; the mapping outlives the descriptor
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap %s: %v", path, err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(data) }) // nothing to flush: mapped read-only
	return data
}
