//go:build linux && !mips && !mipsle && !mips64 && !mips64le

package launcher

import (
	"syscall"
	"unsafe"
)

// sigaction is room for the kernel's struct sigaction on the Linux
// architectures this file builds for (MIPS puts the flags first): the
// handler comes first, and all zeros is SIG_DFL with no flags and an empty
// mask.
type sigaction [4]uint64

// sigsetSize is the kernel's sigset_t: 64 signals.
const sigsetSize = 8

// defaultTSTP puts SIGTSTP back to its default action, stopping the
// process, and returns what puts the launcher's handler back.
//
// os/signal cannot do this: once a program has caught SIGTSTP, signal.Reset
// leaves the Go runtime's handler installed (runtime.sigdisable keeps it
// for every signal the runtime could handle), and that handler drops a
// SIGTSTP nobody asked for. So the old action is saved and restored as the
// kernel holds it; the runtime's own idea of it is never changed.
func defaultTSTP() (restore func(), err error) {
	var dfl, old sigaction
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGTSTP),
		uintptr(unsafe.Pointer(&dfl)), uintptr(unsafe.Pointer(&old)), sigsetSize, 0, 0); e != 0 {
		return nil, e
	}
	return func() {
		_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGTSTP), // cannot fail: it takes back what it gave
			uintptr(unsafe.Pointer(&old)), 0, sigsetSize, 0, 0)
	}, nil
}
