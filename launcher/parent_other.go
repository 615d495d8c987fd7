//go:build !linux && !darwin

package launcher

import "errors"

// parentOf is not implemented here: the launcher then never takes its
// process group for orphaned, nor itself for started by another launcher.
func parentOf(pid int) (int, error) {
	return 0, errors.ErrUnsupported
}

// running is not known here: settle relies on claude's output alone.
func running(pid int) bool { return false }
