//go:build !linux || mips || mipsle || mips64 || mips64le

package launcher

import "errors"

// defaultTSTP is not available here: the launcher stops with SIGSTOP, and
// the shell says "stopped (signal)".
func defaultTSTP() (restore func(), err error) {
	return nil, errors.ErrUnsupported
}
