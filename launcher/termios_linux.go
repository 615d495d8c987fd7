package launcher

import "golang.org/x/sys/unix"

const ioctlGetTermios = unix.TCGETS

// ioctlUnread asks how many bytes wait to be read (FIONREAD).
const ioctlUnread = unix.TIOCINQ
