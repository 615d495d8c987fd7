package governor

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The files of a ledger directory. Each session has three, named after its
// id: its state (.json, replaced atomically by renaming .tmp over it) and a
// lock file (.lock) it holds an exclusive flock on for its whole life. The
// kernel drops that flock when the process dies, however it dies (SIGKILL
// included), so a lock file anyone can lock belongs to a dead session, and
// a state no live lock guards is ignored and, under the admission lock,
// removed. No pid is trusted: pids are reused.
const (
	admissionLock = "admission.lock"
	sessionPrefix = "session-"
)

// DirLedger is a Ledger shared by the sessions of one user through a
// directory, typically $XDG_RUNTIME_DIR/claude-bedrock (a tmpfs private to
// the user). Its methods are safe for concurrent use.
type DirLedger struct {
	mu    sync.Mutex
	dir   string
	id    string
	adm   *os.File // the admission lock
	self  *os.File // this session's lock, held until Close
	held  bool     // adm is locked by us
	cache map[string]cachedState
}

// cachedState skips decoding a session's state that has not changed since
// it was last read: every rename makes a new file.
type cachedState struct {
	ino   uint64
	mtime time.Time
	size  int64
	st    State
}

// OpenLedger joins the ledger in dir (created, mode 0700, if missing) as a
// new session.
func OpenLedger(dir string) (*DirLedger, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the governor's ledger directory: %w", err)
	}
	adm, err := os.OpenFile(filepath.Join(dir, admissionLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the governor's ledger lock: %w", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails on supported systems
	d := &DirLedger{dir: dir, id: fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(rnd[:])), adm: adm, cache: map[string]cachedState{}}
	// The session's lock file is created and locked under the admission
	// lock: a cleaner, which only removes under it, never sees it unlocked.
	if err := d.Lock(); err != nil {
		_ = adm.Close() // nothing written
		return nil, err
	}
	defer d.Unlock() //nolint:errcheck // closing the file would release it anyway
	self, err := os.OpenFile(d.path(d.id, ".lock"), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600)
	if err == nil {
		err = syscall.Flock(int(self.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		if self != nil {
			_ = self.Close() // never locked: nothing to release
		}
		_ = adm.Close() // we held it only for this
		return nil, fmt.Errorf("create the governor's session lock in %s: %w", dir, err)
	}
	d.self = self
	return d, nil
}

func (d *DirLedger) path(id, ext string) string {
	return filepath.Join(d.dir, sessionPrefix+id+ext)
}

// Lock takes the admission lock, waiting for another session's decision.
func (d *DirLedger) Lock() error {
	if err := syscall.Flock(int(d.adm.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", d.adm.Name(), err)
	}
	d.mu.Lock()
	d.held = true
	d.mu.Unlock()
	return nil
}

// Unlock releases the admission lock.
func (d *DirLedger) Unlock() error {
	d.mu.Lock()
	d.held = false
	d.mu.Unlock()
	if err := syscall.Flock(int(d.adm.Fd()), syscall.LOCK_UN); err != nil {
		return fmt.Errorf("unlock %s: %w", d.adm.Name(), err)
	}
	return nil
}

// Publish replaces this session's state, atomically.
func (d *DirLedger) Publish(s State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode the governor's state: %w", err)
	}
	tmp := d.path(d.id, ".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write the governor's state: %w", err)
	}
	if err := os.Rename(tmp, d.path(d.id, ".json")); err != nil {
		return fmt.Errorf("write the governor's state: %w", err)
	}
	return nil
}

// Others returns the states of the other live sessions. Under the
// admission lock it also removes the files of dead ones. A state that
// cannot be read is left out, with an error naming its file.
func (d *DirLedger) Others() ([]State, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.read(d.id, d.held)
}

// Close leaves the ledger: this session's files are removed and its lock
// released.
func (d *DirLedger) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, ext := range []string{".json", ".tmp", ".lock"} {
		if err := os.Remove(d.path(d.id, ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if d.self != nil {
		errs = append(errs, d.self.Close())
	}
	errs = append(errs, d.adm.Close())
	return errors.Join(errs...)
}

// ReadLedger returns the states of every live session in the ledger in
// dir, without changing anything there: what `claude-bedrock +status`
// shows. A missing directory means no session.
func ReadLedger(dir string) ([]State, error) {
	d := &DirLedger{dir: dir, cache: map[string]cachedState{}}
	return d.read("", false)
}

// read returns the states of the live sessions in the directory but skip;
// clean removes the files of dead ones.
func (d *DirLedger) read(skip string, clean bool) ([]State, error) {
	ents, err := os.ReadDir(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the governor's ledger: %w", err)
	}
	seen := map[string]bool{}
	var states []State
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, sessionPrefix) {
			continue
		}
		id := strings.TrimPrefix(name, sessionPrefix)
		id = id[:len(id)-len(filepath.Ext(id))]
		if id == skip || seen[id] {
			continue
		}
		seen[id] = true
		if !d.alive(id) {
			delete(d.cache, id)
			if clean {
				for _, ext := range []string{".json", ".tmp", ".lock"} {
					_ = os.Remove(d.path(id, ext)) // best effort: the next cleaner tries again
				}
			}
			continue
		}
		st, ok, err := d.state(id)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			states = append(states, st)
		}
	}
	for id := range d.cache {
		if !seen[id] {
			delete(d.cache, id)
		}
	}
	return states, errors.Join(errs...)
}

// alive reports whether session id still holds its lock: a lock we can
// take ourselves (or a lock file gone) means its process is dead.
func (d *DirLedger) alive(id string) bool {
	f, err := os.OpenFile(d.path(id, ".lock"), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close() //nolint:errcheck // read-only use; closing drops our probe lock too
	return errors.Is(syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB), syscall.EWOULDBLOCK)
}

// state reads session id's state, from the cache when its file has not
// changed; ok is false when it has published none yet.
func (d *DirLedger) state(id string) (State, bool, error) {
	p := d.path(id, ".json")
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("read the governor's state %s: %w", p, err)
	}
	var ino uint64
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(sys.Ino)
	}
	if c, ok := d.cache[id]; ok && ino != 0 && c.ino == ino && c.mtime.Equal(fi.ModTime()) && c.size == fi.Size() {
		return c.st, true, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil // it left between the stat and the read
	}
	if err != nil {
		return State{}, false, fmt.Errorf("read the governor's state %s: %w", p, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, false, fmt.Errorf("read the governor's state %s: %w (a claude-bedrock of another version? it is ignored)", p, err)
	}
	d.cache[id] = cachedState{ino: ino, mtime: fi.ModTime(), size: fi.Size(), st: st}
	return st, true, nil
}
