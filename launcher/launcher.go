// Package launcher owns the Claude Code child process and the user's
// terminal: it finds claude, runs it in a PTY when the user is at a terminal
// (or on the inherited descriptors when not), passes bytes through untouched,
// relays window size and signals, restores the terminal on every way out, and
// returns claude's exit code.
//
// It is handed what to run; it never reads config files or knows what a
// profile is.
package launcher

import (
	"log"
	"os"

	"golang.org/x/term"
)

// Command is one run of claude.
type Command struct {
	Path string   // the claude binary
	Args []string // arguments after argv[0]
	Env  []string // the complete environment, KEY=VALUE; the last of a key wins; nil: the launcher's
}

// Options are the launcher's surroundings: the standard streams and a
// debug logger.
type Options struct {
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
	Log    *log.Logger // breadcrumbs; nil discards them
	Watch  *Watch      // what to do about throttling; nil: nothing
	// Signals caught by CatchSignals for these same Stdin and Stdout (in a
	// terminal it also catches the job-control signals); nil: Run catches
	// them itself.
	Signals *Signals
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log.Printf(format, args...)
	}
}

// Interactive reports whether the launcher runs claude in a PTY: only when
// both stdin and stdout are terminals. With pipes, files or an editor on
// either side a PTY would change bytes (CRLF, echo, colour), so claude gets
// the inherited descriptors instead.
func Interactive(o Options) bool {
	return term.IsTerminal(int(o.Stdin.Fd())) && term.IsTerminal(int(o.Stdout.Fd()))
}

// Run runs cmd to completion and returns the exit code the launcher should
// exit with: claude's own, 128+N if it died of signal N, 127 or 126 if it
// could not be started. err is non-nil only for the launcher's own failures;
// a non-zero exit of claude is not one.
func Run(cmd Command, o Options) (int, error) {
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Signals == nil {
		o.Signals = CatchSignals(o)
	}
	if Interactive(o) {
		return runPTY(cmd, o)
	}
	return runPlain(cmd, o)
}
