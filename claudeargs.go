package main

import "strings"

// What claude's own command line looks like (Claude Code 2.1.328, checked
// against the pinned CLI by TestClaudeArgsTableMatchesTheCLI: its --help and
// the options its bundled JavaScript defines, hidden ones included). The
// launcher needs it for two things only: to tell an interactive session from
// -p and subcommands, and to drop the prompt and the session choice when it
// relaunches a session. Both go wrong when an option's value is taken for a
// positional word, so the table lists every option, not just those --help
// shows.

// argKind is how many values an option takes, in commander.js's terms.
type argKind int

const (
	noValue       argKind = iota // --verbose
	requiredValue                // --model <model>
	optionalValue                // --resume [value]: the next word if it is not an option
	variadicValue                // --add-dir <dirs...>: the next word, then every next word up to an option
)

// claudeOptions maps each option of claude to what it takes.
var claudeOptions = map[string]argKind{
	// Shown by --help.
	"--add-dir": variadicValue, "--agent": requiredValue, "--agents": requiredValue,
	"--allow-dangerously-skip-permissions": noValue, "--allowedTools": variadicValue, "--allowed-tools": variadicValue,
	"--append-system-prompt": requiredValue, "--autocompact": requiredValue, "--ax-screen-reader": noValue,
	"--bg": noValue, "--background": noValue, "--bare": noValue, "--betas": variadicValue, "--brief": noValue,
	"--chrome": noValue, "--cloud": optionalValue, "-c": noValue, "--continue": noValue,
	"--dangerously-skip-permissions": noValue, "-d": optionalValue, "--debug": optionalValue,
	"--debug-file": requiredValue, "--desktop": noValue, "--disable-slash-commands": noValue,
	"--disallowedTools": variadicValue, "--disallowed-tools": variadicValue, "--effort": requiredValue,
	"--environment": requiredValue, "--exclude-dynamic-system-prompt-sections": noValue,
	"--fallback-model": requiredValue, "--file": variadicValue, "--fork-session": noValue,
	"--forward-subagent-text": noValue, "--from-pr": optionalValue, "-h": noValue, "--help": noValue,
	"--ide": noValue, "--include-hook-events": noValue, "--include-partial-messages": noValue,
	"--input-format": requiredValue, "--json-schema": requiredValue, "--max-budget-usd": requiredValue,
	"--mcp-config": variadicValue, "--model": requiredValue, "-n": requiredValue, "--name": requiredValue,
	"--no-chrome": noValue, "--no-session-persistence": noValue, "--output-format": requiredValue,
	"--permission-mode": requiredValue, "--permission-prompts": requiredValue, "--plugin-dir": requiredValue,
	"--plugin-url": requiredValue, "-p": noValue, "--print": noValue, "--prompt-suggestions": optionalValue,
	"--remote-control": optionalValue, "--remote-control-session-name-prefix": requiredValue,
	"--replay-user-messages": noValue, "--restricted": noValue, "-r": optionalValue, "--resume": optionalValue,
	"--safe-mode": noValue, "--session-id": requiredValue, "--setting-sources": requiredValue,
	"--settings": requiredValue, "--strict-mcp-config": noValue, "--system-prompt": requiredValue,
	"--system-prompt-snapshot": requiredValue, "--teleport": optionalValue, "--tmux": noValue,
	"--tools": variadicValue, "--verbose": noValue, "-v": noValue, "--version": noValue,
	"-w": optionalValue, "--worktree": optionalValue,
	// Hidden from --help: for SDK hosts, teammates, deep links and the
	// desktop app, deprecated aliases, and a few meant for people
	// (--thinking, --system-prompt-file, --teammate-mode).
	"--advisor": requiredValue, "--agent-color": requiredValue, "--agent-id": requiredValue,
	"--agent-name": requiredValue, "--agent-type": requiredValue, "--agents-view-if-allowed": noValue,
	"--allow-other-models": noValue, "--append-subagent-system-prompt": requiredValue,
	"--append-subagent-system-prompt-file": requiredValue, "--append-system-prompt-file": requiredValue,
	"--attach-serve": requiredValue, "--await-claim": noValue, "--await-initialize": noValue,
	"--channels": variadicValue, "--client-data-url": requiredValue, "--correlation-id": requiredValue,
	"--dangerously-load-development-channels": variadicValue, "-d2e": noValue, "--debug-to-stderr": noValue,
	"--deep-link-cwd-b64": requiredValue, "--deep-link-last-fetch": requiredValue, "--deep-link-origin": noValue,
	"--deep-link-repo": requiredValue, "--enable-auth-status": noValue, "--enable-auto-mode": noValue,
	"--fast-mode": requiredValue, "--forward-home-settings": requiredValue, "--hold-repository-while-parked": noValue,
	"--host-auth-is-org-sign-in": noValue, "--ignore-persisted-trust": noValue, "--include-unsupported-models": noValue,
	"--inherit-permission-mode": requiredValue, "--init": noValue, "--init-only": noValue,
	"--initialize-fields": requiredValue, "--lead-verify-key": requiredValue, "--maintenance": noValue,
	"--managed-settings": requiredValue, "--managed-settings-in-initialize": noValue,
	"--max-thinking-tokens": requiredValue, "--max-turns": requiredValue, "--messaging-socket-path": requiredValue,
	"--metadata": requiredValue, "--on-branch": requiredValue, "--parent-session-id": requiredValue,
	"--permission-prompt-tool": requiredValue, "--plan-mode-instructions": requiredValue,
	"--plan-mode-required": noValue, "--plugin-dir-no-mcp": requiredValue, "--pool": requiredValue,
	"--prefill": requiredValue, "--prefill-b64": requiredValue, "--proactivity": requiredValue,
	"--project-config-root": requiredValue, "--rc": optionalValue, "--ref": requiredValue, "--remote": optionalValue,
	"--reply-on-resume": noValue, "--resume-drops-turn": requiredValue, "--resume-session-at": requiredValue,
	"--rewind-files": requiredValue, "--runner-declares": requiredValue, "--sdk-url": requiredValue,
	"--session-began-as-copy": requiredValue, "--session-mirror": noValue, "--system-prompt-file": requiredValue,
	"--task-budget": requiredValue, "--team-name": requiredValue, "--teammate-mode": requiredValue,
	"--thinking": requiredValue, "--thinking-display": requiredValue, "--watch-artifact": requiredValue,
	"--watch-artifact-no-autoreact": requiredValue, "--workload": requiredValue,
}

// claudeCommands are claude's subcommands: none of them is a chat session.
var claudeCommands = map[string]bool{
	// Shown by --help.
	"agents": true, "attach": true, "auth": true, "auto-mode": true, "doctor": true, "gateway": true,
	"import": true, "install": true, "logs": true, "mcp": true, "plugin": true, "plugins": true,
	"purge": true, "respawn": true, "rm": true, "setup-token": true, "stop": true, "kill": true,
	"ultrareview": true, "update": true, "upgrade": true,
	// Hidden from --help (TestClaudeArgsTableMatchesTheCLI has claude name each).
	"design-login": true, "edit-chrome-settings": true, "edit-hook": true, "edit-memory-settings": true,
	"edit-permission-rules": true, "edit-sandbox-settings": true, "edit-skill-overrides": true,
	"import-conversations": true, "project": true, "sandbox": true, "workspace-trust": true,
	"worktree-hook": true,
}

// claudeArg is one option with its values, or one positional word.
type claudeArg struct {
	name   string   // the option ("--model"), or "" for a positional word
	words  []string // the words as given: the option and its values, or the positional word
	values []string
}

// parseClaudeArgs splits args the way claude's parser (commander.js) would.
//
// An option the table does not know (one a newer claude added) takes the
// word after it when that word does not start with "-", as if it took a
// value. Guessing wrong the other way loses the value: the relaunch drops
// it with the prompt and passes "--new-option --resume <id>", which claude
// refuses, ending the conversation. Guessing wrong this way keeps a word of
// the prompt, which the relaunch then repeats, or takes a subcommand after
// the option for a chat session; both are far better.
func parseClaudeArgs(args []string) []claudeArg {
	var out []claudeArg
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, claudeArg{name: "--", words: args[i:], values: args[i+1:]})
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			out = append(out, claudeArg{words: []string{a}})
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		arg := claudeArg{name: name, words: []string{a}}
		if hasVal {
			arg.values = []string{val}
			out = append(out, arg)
			continue
		}
		isValue := func(j int) bool { return j < len(args) && (!strings.HasPrefix(args[j], "-") || args[j] == "-") }
		kind, known := claudeOptions[name]
		if !known {
			kind = optionalValue // the word after it, unless that is an option
		}
		switch kind {
		case requiredValue:
			if i+1 < len(args) {
				i++
				arg.words, arg.values = append(arg.words, args[i]), []string{args[i]}
			}
		case optionalValue:
			if isValue(i + 1) {
				i++
				arg.words, arg.values = append(arg.words, args[i]), []string{args[i]}
			}
		case variadicValue:
			for first := true; i+1 < len(args) && (first || isValue(i+1)); first = false {
				i++
				arg.words, arg.values = append(arg.words, args[i]), append(arg.values, args[i])
			}
		}
		out = append(out, arg)
	}
	return out
}

// sessionKind says what a claude command line starts.
type sessionKind int

const (
	chatSession  sessionKind = iota // the interactive TUI
	printSession                    // -p: one answer, no TUI
	otherCommand                    // a subcommand, --help, --version
)

// classifyClaudeArgs says what claude starts for args. -p anywhere before
// "--" makes it a print session, even after a subcommand's name: claude
// (2.1.328) does not define its subcommands when -p or --print is on the
// command line, so "claude mcp list -p" asks the model about "mcp list".
func classifyClaudeArgs(args []string) sessionKind {
	kind := chatSession
	first := true
	for _, a := range parseClaudeArgs(args) {
		switch a.name {
		case "":
			if first && claudeCommands[a.words[0]] && kind == chatSession {
				kind = otherCommand // unless a -p comes later
			}
			first = false
		case "--":
			return kind
		case "-h", "--help", "-v", "--version", "--bg", "--background", "--desktop":
			return otherCommand
		case "-p", "--print":
			kind = printSession
		}
	}
	return kind
}

// relaunchArgs returns the user's arguments for a relaunch that continues
// the conversation: the prompt (positional words) and any session choice
// are dropped, everything else is kept in order, and --resume ID (when the
// session is known) or --continue is added.
func relaunchArgs(args []string, sessionID string) []string {
	var out []string
	for _, a := range parseClaudeArgs(args) {
		switch a.name {
		case "", "--":
			continue // the prompt: it was sent once already
		case "-c", "--continue", "-r", "--resume", "--session-id", "--fork-session", "--from-pr", "--teleport":
			if sessionID == "" && (a.name == "-r" || a.name == "--resume") && len(a.values) == 1 {
				sessionID = a.values[0] // the user resumed this one
			}
			continue
		}
		out = append(out, a.words...)
	}
	if sessionID != "" {
		return append(out, "--resume", sessionID)
	}
	return append(out, "--continue")
}
