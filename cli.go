package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/claude-bedrock/claude-bedrock/launcher"
	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// version is set at build time with -ldflags "-X main.version=..."; without
// it the module version from the build info is used.
var version = ""

// usageError is a mistake on the command line or in a config file: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// app is one invocation of claude-bedrock.
type app struct {
	stdin          *os.File
	stdout, stderr *os.File
	env            map[string]string
	environ        []string
	cwd            string
	args           []string // the launcher's own arguments
	log            *log.Logger
	signals        *launcher.Signals // caught for a launch, from the start
	temps          []string          // files written for claude, removed when the launch ends
	selfPath       *string           // the launcher's own executable, once found
	runtime        string            // runtimeDir(env), once found
	gov            *governor         // the session's governor, nil when off
}

// run is the whole program; it returns the exit code so that deferred
// terminal restores run before the process exits.
func run(args []string, stdin, stdout, stderr *os.File) int {
	if len(args) > 0 && args[0] == "+statusline" {
		// Claude Code runs it after every message: nothing else of the
		// launcher's start is needed, and nothing may fail it.
		return statusline(stdin, stdout, os.Getenv, time.Now())
	}
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, args: args}
	if len(args) == 0 || !strings.HasPrefix(args[0], "+") || !profiles.IsCommand(args[0][1:]) {
		// Most likely a launch: start catching the signals it relays now,
		// while the config is read (see launcher.CatchSignals).
		a.signals = launcher.CatchSignals(launcher.Options{Stdin: stdin, Stdout: stdout})
	}
	a.environ = os.Environ()
	a.env = envMap(a.environ)
	a.log = log.New(io.Discard, "claude-bedrock: ", 0)
	if a.env["CLAUDE_BEDROCK_DEBUG"] != "" {
		a.log.SetOutput(stderr)
	}
	var err error
	if a.cwd, err = os.Getwd(); err != nil {
		return a.fail(fmt.Errorf("finding the working directory: %w", err))
	}
	code, err := a.dispatch(args)
	if err != nil {
		return a.fail(err)
	}
	return code
}

// fail prints err once, as "claude-bedrock: ...", and picks the exit code.
func (a *app) fail(err error) int {
	fmt.Fprintf(a.stderr, "claude-bedrock: %v\n", err)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return launcher.ExitUsage
	default:
		return launcher.ExitCodeFor(err)
	}
}

func (a *app) dispatch(args []string) (int, error) {
	if len(args) > 0 && wrappedClaude(args[0]) {
		if self := a.self(); self != "" && sameFile(args[0], self) {
			return a.dispatch(args[1:]) // "<launcher> <launcher> …": no loop
		}
		return a.launch("", args[1:], args[0])
	}
	if len(args) == 0 || !strings.HasPrefix(args[0], "+") {
		return a.launch("", args, "")
	}
	word, rest := args[0][1:], args[1:]
	switch word {
	case "help":
		fmt.Fprint(a.stdout, helpText)
		return 0, nil
	case "version":
		fmt.Fprintf(a.stdout, "claude-bedrock %s\n", buildVersion())
		return 0, nil
	case "profiles":
		return a.cmdProfiles(rest)
	case "use":
		return a.cmdUse(rest)
	case "env":
		return a.cmdEnv(rest)
	case "allow", "deny":
		return a.cmdTrust(word, rest)
	case "doctor":
		return a.cmdDoctor(rest)
	case "status":
		return a.cmdStatus(rest)
	case "completion":
		return a.cmdCompletion(rest)
	case "complete-words": // hidden: the completion scripts run it at TAB time
		return a.cmdCompleteWords(rest)
	}
	s, err := a.setup()
	if err != nil {
		return 0, err
	}
	if _, ok := s.Config.Profiles[word]; !ok {
		return 0, usagef("%s is neither a profile nor a command; profiles: %s; commands: +%s (put -- first to pass a + word to claude)",
			args[0], strings.Join(s.Config.Names(), ", "), strings.Join(profiles.Commands, ", +"))
	}
	return a.launch(word, rest, "")
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// setup loads the config and the project file, turning their errors into
// usage errors.
func (a *app) setup() (*profiles.Setup, error) {
	s, err := profiles.Load(a.env, a.cwd)
	if err != nil {
		return nil, usageError{err}
	}
	return s, nil
}

// resolve picks the profile, printing any notices once.
func (a *app) resolve(s *profiles.Setup, name string) (*profiles.Resolution, error) {
	r, err := s.Resolve(name)
	if err != nil {
		return nil, usageError{err}
	}
	for _, n := range r.Notices {
		fmt.Fprintf(a.stderr, "claude-bedrock: %s\n", n)
	}
	a.log.Printf("profile %s (%s)", r.Profile.Name, r.ChosenBy)
	for _, k := range []string{"model", "region", "max_output_tokens"} {
		a.log.Printf("%s %s from %s", k, r.Profile.Value(k), r.Sources[k])
	}
	return r, nil
}

// launch runs claude with the profile name ("" = by precedence) and the
// user's arguments, passed on unchanged and in order. claudePath is the
// binary named by the process-wrapper form, or "" to find claude.
func (a *app) launch(name string, args []string, claudePath string) (int, error) {
	if back, ok := launcher.CameBack(a.env); ok && claudePath == "" {
		// The process-wrapper form is exempt: it names the claude to run,
		// which Claude Code gives as its own binary, and Claude Code starts
		// it with the environment it was itself given, mark included.
		return a.passOn(back, args)
	}
	opts := launcher.Options{Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr, Log: a.log, Signals: a.signals}
	a.restoreOwnEnv()
	s, err := a.setup()
	if err != nil {
		return 0, err
	}
	r, err := a.resolve(s, name)
	if err != nil {
		return 0, err
	}
	self := a.self()
	path := claudePath
	if path == "" {
		if path, err = launcher.FindClaude(a.env, s.Config.ClaudePath, self); err != nil {
			return 0, err
		}
	}
	users, err := readUserSettings(args) // once, for the governor and the merge
	if err != nil {
		return 0, usageError{err}
	}
	a.removeStaleSettings()
	defer a.removeTemps()
	a.gov = a.governorFor(s, r.Profile, args, users, claudePath)
	claudeArgs, err := withUserSettings(a.gov.settings(clearStarted(r.Profile.Settings())), args, users, a.privateSettings)
	if err != nil {
		return 0, usageError{err}
	}
	if claudePath != "" && internalInvocation(args) {
		// Claude Code's own service processes parse their arguments
		// themselves and refuse --settings (measured: "unknown option");
		// they get the profile through the environment, and the sessions
		// they start come through the launcher again.
		claudeArgs = args
	}
	// Set again for a relaunch: the profile's variables are.
	var extra []string
	if claudePath == "" {
		// What this launcher found and starts as claude: if it comes back
		// to a launcher, that one knows (see launcher.StartedVar).
		extra = append(extra, launcher.StartedVar+"="+launcher.Started{Pid: os.Getpid(), Path: path}.String())
	}
	if s.Config.ProcessWrapper && self != "" {
		// Claude Code starts its background service, agent-view sessions
		// and its restart after an update as "<wrapper> <claude> <args>":
		// through the launcher, they get the same profile. A launcher
		// started that way sets it again to itself: never a second layer.
		extra = append(extra, "CLAUDE_CODE_PROCESS_WRAPPER="+self)
	}
	env := a.gov.environ(withoutEnv(r.Profile.Environ(a.environ), launcher.StartedVar))
	env = append(env, extra...)
	watch := a.newWatch(s, r, path, args, a.args, extra)
	if claudePath != "" && watch != nil {
		watch.Offer = false // a process Claude Code spawned: nobody to ask
	}
	a.log.Printf("running %s", path)
	opts.Watch = watch
	if gw := a.gov.gateway(); gw != nil {
		gw.start()
		defer func() {
			gw.stop()
			if line := gw.report(r.Profile.Name); line != "" {
				fmt.Fprintf(a.stderr, "claude-bedrock: %s\n", line)
			}
		}()
	}
	return launcher.Run(launcher.Command{Path: path, Args: claudeArgs, Env: env}, opts)
}

// self is the launcher's own executable, with links resolved, or "".
func (a *app) self() string {
	if a.selfPath != nil {
		return *a.selfPath
	}
	self, err := os.Executable()
	if err != nil {
		self = "" // without it only the loop check is lost
	} else if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	a.selfPath = &self
	return self
}

// setEnv returns env with key set to value.
func setEnv(env []string, key, value string) []string {
	return append(withoutEnv(env, key), key+"="+value)
}

// withoutEnv returns env without key.
func withoutEnv(env []string, key string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}

// passOn runs, in place of this launcher, the next claude on PATH with the
// arguments and environment it was given: what the launcher that came back
// here meant for claude, its profile included. The process is replaced
// (exec), so claude is where this launcher was, and no second launcher
// sits between it and the first. A second claude that comes back too ends
// the chain with an error: one level, never more.
func (a *app) passOn(back launcher.Started, args []string) (int, error) {
	if back.Hops > 0 {
		return 0, fmt.Errorf("%s runs claude-bedrock again, as did the claude before it on PATH: "+
			"point CLAUDE_BEDROCK_CLAUDE or claude_path in the config at the real claude binary", back.Path)
	}
	path, err := launcher.NextClaude(a.env, a.self(), back)
	if err != nil {
		return 0, err
	}
	a.log.Printf("%s ran claude-bedrock again: running %s instead", back.Path, path)
	env := setEnv(a.environ, launcher.StartedVar, launcher.Started{Pid: os.Getpid(), Hops: back.Hops + 1, Path: path}.String())
	err = syscall.Exec(path, append([]string{path}, args...), env)
	return 0, fmt.Errorf("starting %s: %w", path, err) // only if the exec failed
}

// internalInvocation reports whether args start one of Claude Code's
// internal processes (its background service, a PTY host, a spare session).
func internalInvocation(args []string) bool {
	return len(args) > 0 && (args[0] == "daemon" || strings.HasPrefix(args[0], "--bg-"))
}

// wrappedClaude reports whether arg is the process-wrapper form's first
// argument: the absolute path of an executable Claude Code binary. Its path
// must name claude (…/bin/claude, …/claude/versions/2.1.328,
// …/claude-code-linux-x64/claude), so that a prompt like "/init" that
// happens to be a file is never taken for one.
func wrappedClaude(arg string) bool {
	return filepath.IsAbs(arg) && strings.Contains(strings.ToLower(arg), "claude") && executableFile(arg)
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

const helpText = `claude-bedrock: Claude Code on Amazon Bedrock, with a deliberate model, region and output cap.

Usage:
  claude-bedrock [+PROFILE] [claude arguments...]
  claude-bedrock +COMMAND [arguments]

Everything that is not a +word goes to claude unchanged: claude-bedrock -p "hi",
claude-bedrock --resume, claude-bedrock mcp list. Put -- first to pass a + word to claude.

Commands:
  +profiles      list the profiles; mark the one that applies here and say why
  +use NAME      make NAME the default profile in your config
  +env [NAME]    print the export lines a profile sets, for other tools
  +allow         trust the .claude-bedrock.toml that applies here (again after each edit)
  +deny          distrust it
  +doctor [+NAME] [--json] [--parallel N]
                 check claude, the profile, Claude's settings files, AWS credentials,
                 the model and the quota, and recommend a cap
  +status [--json] [--watch]
                 what the governor knows of each quota: limit, use, waiting, 429s
  +completion SHELL
                 print shell completion for bash, zsh or fish (see the README)
  +help          this text
  +version       the launcher's version

Profile precedence: +NAME > CLAUDE_BEDROCK_PROFILE > trusted .claude-bedrock.toml >
default in the config > built-in "code". CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS overrides the cap
for one run.

Config: claude-bedrock/config.toml in $XDG_CONFIG_HOME (~/.config; on macOS ~/Library/Application
Support, or ~/.config when the file is there), over a system-wide one in $XDG_CONFIG_DIRS
(/etc/xdg; on macOS /Library/Application Support). CLAUDE_BEDROCK_CONFIG overrides the path
of yours; +profiles names the files in use.
`
