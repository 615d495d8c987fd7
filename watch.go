package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/claude-bedrock/claude-bedrock/incidents"
	"github.com/claude-bedrock/claude-bedrock/launcher"
	"github.com/claude-bedrock/claude-bedrock/launcher/detect"
	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// lowerConcurrency is the CLAUDE_CODE_MAX_TOOL_USE_CONCURRENCY a relaunch
// after requests-per-minute throttling sets (Claude Code's default is 10).
const lowerConcurrency = 3

// watcher is the policy behind the launcher's watch: what to propose for
// which incident, how to relaunch, what to record. It knows the profile;
// the launcher knows the terminal.
type watcher struct {
	a       *app
	path    string   // claude
	args    []string // the user's arguments for claude
	cmdline []string // how the launcher was called, for the -p hint
	profile profiles.Profile
	config  string   // the config file, for k (keep)
	state   string   // the state folder, for the incident record
	extra   []string // the launch's own variables for claude, set again at a relaunch
	// capByProject: this project's file sets the cap, and would go on
	// overriding a cap saved in the profile here, so k is not offered.
	capByProject bool
	// keeping is the incident the user pressed k for, until keep knows
	// whether the cap was saved.
	keeping *detect.Incident
}

// newWatch returns the launcher's Watch for claude args: an offer in an
// interactive chat, a hint after a -p run, nothing for subcommands.
func (a *app) newWatch(s *profiles.Setup, r *profiles.Resolution, path string, args, cmdline, extra []string) *launcher.Watch {
	kind := classifyClaudeArgs(args)
	if kind == otherCommand {
		return nil
	}
	w := &watcher{a: a, path: path, args: args, cmdline: cmdline, profile: r.Profile, config: s.Paths.Config, state: s.Paths.StateDir, extra: extra}
	if s.Project != nil && r.Sources["max_output_tokens"] == s.Project.Path {
		w.capByProject = true
	}
	return &launcher.Watch{
		Offer:    kind == chatSession,
		Propose:  w.propose,
		Relaunch: w.relaunch,
		Keep:     w.keep,
		Record:   w.record,
		Report:   w.report,
	}
}

// kindText says what happened, in words.
func kindText(k detect.Kind) string {
	switch k {
	case detect.TokensPerMinute:
		return "Bedrock throttled: too many tokens per minute"
	case detect.RequestsPerMinute:
		return "Bedrock throttled: too many requests per minute"
	case detect.TokensPerDay:
		return "Bedrock throttled: the daily token quota is used up"
	case detect.ServiceUnavailable:
		return "Bedrock is unavailable (503)"
	case detect.CapTooLow:
		return "Claude's answer hit the output cap"
	}
	return "Bedrock failed"
}

// kindShort says it in a few characters, for a narrow terminal.
func kindShort(k detect.Kind) string {
	switch k {
	case detect.TokensPerMinute:
		return "429 tokens/min"
	case detect.RequestsPerMinute:
		return "429 requests/min"
	case detect.TokensPerDay:
		return "429 tokens/day"
	case detect.ServiceUnavailable:
		return "503 unavailable"
	case detect.CapTooLow:
		return "cap hit"
	}
	return "failed"
}

// kindCode is the shortest name of a kind: its HTTP status, or "cap".
func kindCode(k detect.Kind) string {
	switch k {
	case detect.ServiceUnavailable:
		return "503"
	case detect.CapTooLow:
		return "cap"
	}
	return "429"
}

// propose decides the offer for an incident. The banner comes in several
// lengths, longest first: the launcher shows the first that fits. Each
// ends with the keys, and the shortest fit in 20 columns.
func (w *watcher) propose(inc detect.Incident) (launcher.Proposal, bool) {
	p := w.profile
	what, short := kindText(inc.Kind), kindShort(inc.Kind)
	info := func(long, mid string) launcher.Proposal {
		return launcher.Proposal{Text: []string{
			fmt.Sprintf("claude-bedrock: %s. %s  · n dismiss", what, long),
			fmt.Sprintf("%s: %s · n ok", short, mid),
			short + " · n ok",
			kindCode(inc.Kind) + " · n ok",
		}}
	}
	switch inc.Kind {
	case detect.TokensPerMinute:
		next, ok := p.LowerCap()
		if !ok {
			return info(fmt.Sprintf("Cap %d is at min_output_tokens already: wait a minute, or use a profile in another region.", p.MaxOutputTokens), "at the floor, wait"), true
		}
		return w.capProposal(inc.Kind, next), true
	case detect.CapTooLow:
		next, ok := p.HigherCap()
		if !ok {
			return info(fmt.Sprintf("Cap %d is the model's ceiling already.", p.MaxOutputTokens), "at the ceiling"), true
		}
		return w.capProposal(inc.Kind, next), true
	case detect.RequestsPerMinute:
		return launcher.Proposal{
			Text: []string{
				fmt.Sprintf("claude-bedrock: %s; a lower cap does not help, fewer parallel requests do. Relaunch with CLAUDE_CODE_MAX_TOOL_USE_CONCURRENCY=%d?  y yes · n no", what, lowerConcurrency),
				fmt.Sprintf("%s: relaunch with %d parallel tools? y yes · n no", short, lowerConcurrency),
				short + ": fewer tools? y/n",
				fmt.Sprintf("%s: %d tools? y/n", kindCode(inc.Kind), lowerConcurrency),
			},
			Relaunch: true,
			Cap:      p.MaxOutputTokens,
			Announce: fmt.Sprintf("profile %s: CLAUDE_CODE_MAX_TOOL_USE_CONCURRENCY=%d after too many requests per minute", p.Name, lowerConcurrency),
		}, true
	case detect.TokensPerDay:
		return info("A lower cap does not help: use a profile in another region (claude-bedrock +NAME --continue).", "another region helps"), true
	case detect.ServiceUnavailable:
		return info("Wait, or use a profile in another region.", "wait, or another region"), true
	}
	return launcher.Proposal{}, false
}

// capProposal offers a relaunch at another cap, and to save it in the
// profile (k) unless the cap here comes from the project's file, which
// would go on overriding the profile's in this project.
func (w *watcher) capProposal(kind detect.Kind, next int) launcher.Proposal {
	p := w.profile
	what := kindText(kind)
	canKeep := !w.capByProject
	text := []string{
		fmt.Sprintf("claude-bedrock: %s at cap %d. Relaunch at %d, keeping the conversation?  y yes · k yes, and save %d in profile %s · n no",
			what, p.MaxOutputTokens, next, next, p.Name),
		fmt.Sprintf("%s at cap %d. Relaunch at %d? y yes · k yes, save it · n no", kindShort(kind), p.MaxOutputTokens, next),
		fmt.Sprintf("%s: cap %d->%d? y/k/n", kindShort(kind), p.MaxOutputTokens, next),
		fmt.Sprintf("%s: %d→%d? y/k/n", kindCode(kind), p.MaxOutputTokens, next),
		fmt.Sprintf("%s →%d? y/k/n", kindCode(kind), next),
	}
	if !canKeep {
		text = []string{
			fmt.Sprintf("claude-bedrock: %s at cap %d, set by this project's %s. Relaunch at %d, keeping the conversation?  y yes · n no",
				what, p.MaxOutputTokens, profiles.ProjectFileName, next),
			fmt.Sprintf("%s at cap %d. Relaunch at %d? y yes · n no", kindShort(kind), p.MaxOutputTokens, next),
			fmt.Sprintf("%s: cap %d->%d? y/n", kindShort(kind), p.MaxOutputTokens, next),
			fmt.Sprintf("%s: %d→%d? y/n", kindCode(kind), p.MaxOutputTokens, next),
			fmt.Sprintf("%s →%d? y/n", kindCode(kind), next),
		}
	}
	return launcher.Proposal{
		Text:     text,
		Relaunch: true,
		CanKeep:  canKeep,
		Cap:      next,
		Announce: fmt.Sprintf("profile %s: cap %d -> %d (%s)", p.Name, p.MaxOutputTokens, next, strings.ToLower(what[:1])+what[1:]),
	}
}

func (w *watcher) relaunch(pr launcher.Proposal, sessionID string) (launcher.Command, error) {
	if pr.Cap == w.profile.MaxOutputTokens {
		w.extra = append(w.extra, "CLAUDE_CODE_MAX_TOOL_USE_CONCURRENCY="+strconv.Itoa(lowerConcurrency))
	}
	w.profile.MaxOutputTokens = pr.Cap
	w.args = relaunchArgs(w.args, sessionID) // a later relaunch continues this one
	args, err := withSettings(w.a.gov.settings(clearStarted(w.profile.Settings())), w.args, w.a.privateSettings)
	if err != nil {
		return launcher.Command{}, err
	}
	return launcher.Command{Path: w.path, Args: args, Env: append(w.a.gov.environ(w.profile.Environ(w.a.environ)), w.extra...)}, nil
}

// keep saves the proposal's cap in the profile (the user pressed k), and
// records the incident as what happened: a cap that could not be saved
// makes the choice a relaunch, with the reason.
func (w *watcher) keep(pr launcher.Proposal) error {
	err := profiles.SetCap(w.config, w.profile.Name, pr.Cap, w.a.env)
	if inc := w.keeping; inc != nil {
		w.keeping = nil
		if err != nil {
			w.append(*inc, "relaunch", err.Error())
		} else {
			w.append(*inc, "keep", "")
		}
	}
	return err
}

// record appends the incident to the incident record. A "keep" is left
// to keep, which the launcher calls next, to know whether it was one.
func (w *watcher) record(inc detect.Incident, choice string) {
	if choice == "keep" {
		w.keeping = &inc
		return
	}
	w.append(inc, choice, "")
}

func (w *watcher) append(inc detect.Incident, choice, notKept string) {
	err := incidents.Append(incidents.Path(w.state), incidents.Record{
		Time: time.Now().UTC().Truncate(time.Second), Profile: w.profile.Name, Model: w.profile.Model,
		Region: w.profile.Region, Cap: w.profile.MaxOutputTokens, Kind: inc.Kind.String(), Choice: choice,
		NotKept: notKept,
	})
	if err != nil {
		w.a.log.Printf("%v", err) // the record is advice for later: never a reason to fail a session
	}
}

// report prints, after a run that offered nothing (-p, pipes), one line
// naming the incident and the command that runs it again as it proposes.
func (w *watcher) report(inc detect.Incident) {
	what := kindText(inc.Kind)
	cmd, piped := w.commandLine(), ""
	if pipedIn(w.a.stdin) {
		piped = " (with the same input piped in again)"
	}
	p := w.profile
	var line string
	switch inc.Kind {
	case detect.TokensPerMinute:
		if next, ok := p.LowerCap(); ok {
			line = fmt.Sprintf("%s at cap %d; run it again at %d%s: CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS=%d %s", what, p.MaxOutputTokens, next, piped, next, cmd)
		} else {
			line = fmt.Sprintf("%s at cap %d, already at min_output_tokens; wait a minute or try another region", what, p.MaxOutputTokens)
		}
	case detect.CapTooLow:
		if next, ok := p.HigherCap(); ok {
			line = fmt.Sprintf("%s of %d; run it again at %d%s: CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS=%d %s", what, p.MaxOutputTokens, next, piped, next, cmd)
		} else {
			line = fmt.Sprintf("%s of %d, the model's ceiling", what, p.MaxOutputTokens)
		}
	case detect.RequestsPerMinute:
		line = fmt.Sprintf("%s; fewer parallel requests help%s: CLAUDE_CODE_MAX_TOOL_USE_CONCURRENCY=%d %s", what, piped, lowerConcurrency, cmd)
	case detect.TokensPerDay:
		line = what + "; a lower cap does not help: try a profile in another region"
	case detect.ServiceUnavailable:
		line = what + ": wait, or use a profile in another region"
	default:
		return
	}
	fmt.Fprintf(w.a.stderr, "claude-bedrock: %s\n", line)
}

// pipedIn reports whether f is a pipe or a file: input that is gone once
// read, and must be given again to run the command again.
func pipedIn(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && (fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0 || fi.Mode().IsRegular())
}

// plainValues are the options of claude whose values are names, modes,
// numbers, session IDs or paths: never a secret, so the hint may show them.
var plainValues = map[string]bool{
	"--model": true, "--fallback-model": true, "--output-format": true, "--input-format": true,
	"--permission-mode": true, "--max-turns": true, "--effort": true, "-r": true, "--resume": true,
	"--session-id": true, "--add-dir": true, "--allowedTools": true, "--allowed-tools": true,
	"--disallowedTools": true, "--disallowed-tools": true, "--tools": true, "--agent": true,
	"--setting-sources": true, "--max-budget-usd": true,
}

// commandLine is the launcher's own command line, quoted for a shell, with
// the profile named so that the same one applies when it runs again. The
// hint goes to stderr, which may end up in a log the command line never
// would: every word that could hold a secret is shown as "…" — the prompt,
// and the values of options not in plainValues (an inline --settings may
// carry AWS keys).
func (w *watcher) commandLine() string {
	args := w.cmdline
	q := []string{"claude-bedrock"}
	if len(args) > 0 && strings.HasPrefix(args[0], "+") {
		q, args = append(q, shellQuote(args[0])), args[1:]
	} else {
		q = append(q, "+"+w.profile.Name)
	}
	for _, a := range parseClaudeArgs(args) {
		switch {
		case a.name == "":
			q = append(q, "…")
		case a.name == "--":
			q = append(q, "--", "…")
		case len(a.values) == 0:
			q = append(q, shellQuote(a.name))
		case plainValues[a.name]:
			for _, word := range a.words {
				q = append(q, shellQuote(word))
			}
		case strings.Contains(a.words[0], "="):
			q = append(q, shellQuote(a.name)+"=…")
		default:
			q = append(q, shellQuote(a.name), "…")
		}
	}
	return strings.Join(q, " ")
}
