//go:build darwin || freebsd || netbsd || openbsd

package launcher

import "golang.org/x/sys/unix"

const ioctlGetTermios = unix.TIOCGETA
