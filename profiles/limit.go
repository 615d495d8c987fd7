package profiles

import (
	"fmt"
	"io"
	"os"
)

// MaxFileSize is the most a config or project file may hold: 1 MiB, some
// ten thousand profiles. A bigger file is refused unread: a project file
// comes with whatever repository was cloned, and reading and parsing a
// gigabyte of it would cost seconds and gigabytes before any +allow.
const MaxFileSize = 1 << 20

// tooLargeError says a file is over MaxFileSize.
type tooLargeError struct{ path, what, todo string }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than 1 MiB, the most a %s may hold: %s", e.path, e.what, e.todo)
}

// readLimited reads the file at path, refusing it unread when it is larger
// than MaxFileSize (what says what kind of file it is, todo what to do).
// The file is read through a limit, so one that grows meanwhile is refused
// too, after at most MaxFileSize+1 bytes.
func readLimited(path, what, todo string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() // read-only: nothing to lose
	size := int64(512)
	if fi, err := f.Stat(); err == nil {
		if fi.Size() > MaxFileSize {
			return nil, &tooLargeError{path, what, todo}
		}
		size = fi.Size() + 1 // +1: the read that sees the end
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):min(cap(buf), MaxFileSize+1)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxFileSize {
			return nil, &tooLargeError{path, what, todo}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
