package launcher

import (
	"os"
	"syscall"
	"testing"
)

// A Ctrl-C caught before claude started ends the run; a resize caught
// meanwhile stays for the run, and with none of the four nothing ends.
func TestSignalsEnded(t *testing.T) {
	s := &Signals{c: make(chan os.Signal, 16), ready: make(chan struct{})}
	close(s.ready)
	s.c <- syscall.SIGWINCH
	if sig, ok := s.ended(); ok {
		t.Fatalf("ended by %v with only a resize caught", sig)
	}
	s.c <- syscall.SIGINT
	sig, ok := s.ended()
	if !ok || sig != syscall.SIGINT {
		t.Fatalf("ended() = %v, %v; want SIGINT, true", sig, ok)
	}
	select {
	case got := <-s.wait():
		if got != syscall.SIGWINCH {
			t.Fatalf("kept %v, want SIGWINCH", got)
		}
	default:
		t.Fatal("the resize caught before the Ctrl-C was dropped")
	}
}
