//go:build darwin || freebsd || netbsd || openbsd

package launcher

import "golang.org/x/sys/unix"

const ioctlGetTermios = unix.TIOCGETA

// ioctlUnread asks how many bytes wait to be read: FIONREAD, _IOR('f',
// 127, int), the same on every BSD (x/sys/unix does not name it).
const ioctlUnread = 0x4004667f
