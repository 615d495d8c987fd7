package launcher

import (
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// Signals are the signals a run catches: those it relays to claude, and in
// a PTY also those of the terminal (a resize, a stop, a continue). Catching
// them before anything can go wrong matters: Go's default action for them
// exits without running deferred code, which would leave the terminal raw
// and claude without word.
type Signals struct {
	c     chan os.Signal
	ready chan struct{} // closed once every signal is caught
}

// relayed are the signals the launcher passes on to claude. Listed, never
// "all": SIGCHLD, SIGURG (the Go runtime's preemption) and the job-control
// signals are not claude's business here.
var relayed = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT}

// terminalSignals are caught in a PTY as well: the launcher follows the
// window's size and does job control for claude.
var terminalSignals = []os.Signal{syscall.SIGWINCH, syscall.SIGTSTP, syscall.SIGCONT}

// CatchSignals starts catching, in the background, the signals that Run
// catches for a run on o's streams, and returns at once; Run waits until
// they are all caught before it touches the terminal or starts claude.
//
// os/signal enables each signal with a round trip to the runtime's signal
// thread, about 65 µs a signal on a 2 vCPU AMD EPYC 2.25 GHz virtual
// machine (measured), so a launcher that calls this first and then reads
// its config takes the wait off the launch path. The signals stay caught
// until the process exits: stopping costs as much again, and the launcher
// exits when Run returns.
func CatchSignals(o Options) *Signals {
	sigs := append([]os.Signal(nil), relayed...)
	if Interactive(o) {
		sigs = append(sigs, terminalSignals...)
	}
	s := &Signals{c: make(chan os.Signal, 16), ready: make(chan struct{})}
	go func() {
		signal.Notify(s.c, sigs...)
		close(s.ready)
	}()
	return s
}

// wait returns the channel of caught signals once every one is caught.
func (s *Signals) wait() chan os.Signal {
	<-s.ready
	return s.c
}

// ended returns a signal caught before claude started that ends the run
// (SIGTERM, SIGHUP, SIGINT, SIGQUIT: a Ctrl-C while the config was read,
// say), and keeps the others for the run. claude has not got it, and never
// would: the launcher exits with 128+N as the signal's default action
// would have made it.
func (s *Signals) ended() (syscall.Signal, bool) {
	var keep []os.Signal
	defer func() {
		for _, sig := range keep {
			select {
			case s.c <- sig:
			default: // as full as the channel gets anyway
			}
		}
	}()
	for {
		select {
		case sig := <-s.c:
			if n, ok := sig.(syscall.Signal); ok && slices.Contains(relayed, sig) {
				return n, true
			}
			keep = append(keep, sig)
		default:
			return 0, false
		}
	}
}
