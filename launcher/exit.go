package launcher

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// Exit codes of the launcher itself, as shells use them.
const (
	ExitFailure       = 1   // the launcher's own failure
	ExitUsage         = 2   // a usage or configuration error
	ExitNotExecutable = 126 // claude exists but cannot be run
	ExitNotFound      = 127 // no claude
)

// startCode is the exit code for a child that could not be started.
func startCode(err error) int {
	var ne *NotExecutableError
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist), errors.Is(err, ErrNotFound):
		return ExitNotFound
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.ENOEXEC), errors.As(err, &ne):
		return ExitNotExecutable
	}
	return ExitFailure
}

// ExitCodeFor is the exit code for an error from FindClaude or Run.
func ExitCodeFor(err error) int { return startCode(err) }
