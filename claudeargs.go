package main

import "strings"

// What claude's own command line looks like (Claude Code 2.1.328, checked
// against the pinned CLI's --help by TestClaudeArgsTableMatchesTheCLI). The
// launcher needs it for two things only: to tell an interactive session from
// -p and subcommands, and to drop the prompt and the session choice when it
// relaunches a session.

// argKind is how many values an option takes, in commander.js's terms.
type argKind int

const (
	noValue       argKind = iota // --verbose
	requiredValue                // --model <model>
	optionalValue                // --resume [value]: the next word if it is not an option
	variadicValue                // --add-dir <dirs...>: every next word up to an option
)

// claudeOptions maps each option of claude to what it takes.
var claudeOptions = map[string]argKind{
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
}

// claudeCommands are claude's subcommands: none of them is a chat session.
var claudeCommands = map[string]bool{
	"agents": true, "attach": true, "auth": true, "auto-mode": true, "doctor": true, "gateway": true,
	"import": true, "install": true, "logs": true, "mcp": true, "plugin": true, "plugins": true,
	"purge": true, "respawn": true, "rm": true, "setup-token": true, "stop": true, "kill": true,
	"ultrareview": true, "update": true, "upgrade": true,
}

// claudeArg is one option with its values, or one positional word.
type claudeArg struct {
	name   string   // the option ("--model"), or "" for a positional word
	words  []string // the words as given: the option and its values, or the positional word
	values []string
}

// parseClaudeArgs splits args the way claude's parser (commander.js) would.
// Unknown options are kept as options without values.
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
		switch claudeOptions[name] {
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
			for isValue(i + 1) {
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

func classifyClaudeArgs(args []string) sessionKind {
	kind := chatSession
	first := true
	for _, a := range parseClaudeArgs(args) {
		switch a.name {
		case "":
			if first && claudeCommands[a.words[0]] {
				return otherCommand
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
