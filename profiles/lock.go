package profiles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockWait is how long a save waits for another one to finish: saves take
// milliseconds, so a lock held longer belongs to a process that is stuck.
const lockWait = 10 * time.Second

// withLock runs fn holding an exclusive flock on the file lockPath, made if
// needed and never removed (removing it would let two savers lock two
// different files). Every read-modify-write of a file the user may change
// from two terminals at once (k and +use on the config, +allow and +deny on
// the trust store) re-reads the file inside fn, so that no save is lost.
// Readers never lock: each save replaces its file by a rename, so they see
// the old content or the new.
func withLock(lockPath string, fn func() error) error {
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(lockPath), err)
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	defer f.Close() // closing releases the lock
	deadline := time.Now().Add(lockWait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("locking %s: %w", lockPath, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is held by another process for more than %v: try again, or remove it if no claude-bedrock is running", lockPath, lockWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fn()
}

// lockConfig runs fn holding the lock of the config file at path: a file
// beside it (beside the file a symbolic link points to), named after it.
func lockConfig(path string, fn func() error) error {
	real, err := resolveLink(path)
	if err != nil {
		return err
	}
	return withLock(filepath.Join(filepath.Dir(real), "."+filepath.Base(real)+".lock"), fn)
}

// lockTrust runs fn holding the lock of the trust store in dir.
func lockTrust(dir string, fn func() error) error {
	return withLock(filepath.Join(dir, ".lock"), fn)
}
