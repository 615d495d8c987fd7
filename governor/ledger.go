package governor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The files of a ledger directory:
//
//   - admission.lock: flock'd around each admission decision; its first 8
//     bytes count the sessions that joined or left, so a session rereads
//     the directory only when that count moved; the next 8 count the
//     decisions taken, so a session that gave up waiting for the lock
//     knows whether its holder has moved on since.
//   - session-<id>.lock: its session holds an exclusive flock on it for its
//     whole life. The kernel drops that flock when the process dies,
//     however it dies (SIGKILL included), so a lock file anyone can lock
//     belongs to a dead session; its files are then ignored and, under the
//     admission lock, removed. No pid is trusted: pids are reused.
//   - session-<id>.state: its state, rewritten in place (no new file per
//     change: a rename costs several system calls and, on ext4, a flush),
//     behind a header with its length and checksum (FNV-1a), so a reader that caught a
//     write half-done sees it and reads again.
const (
	admissionLock = "admission.lock"
	sessionPrefix = "session-"
	lockExt       = ".lock"
	stateExt      = ".state"
	// headerLen is the state header: "%08x %08x\n", length and checksum.
	headerLen = 18
	// tornRetries is how many times a reader rereads a state caught
	// mid-write before it keeps the last one it read whole.
	tornRetries = 3
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
	state *os.File // this session's state
	held  bool     // adm is locked by us
	// stuck is set when Lock gave up, with the count of decisions then.
	stuck   bool
	stuckAt uint64
	gen     uint64 // the join/leave count when peers was last read
	peers   map[string]*peer
	buf     []byte
}

// peer is another session as this one keeps it open between reads.
type peer struct {
	id          string
	lock, state *os.File
	st          State
	ok          bool   // st was read whole at least once
	size, sum   uint32 // st's header: the same header again is the same state
	buf         []byte
}

// OpenLedger joins the ledger in dir (created, mode 0700, if missing) as a
// new session.
func OpenLedger(dir string) (*DirLedger, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the governor's ledger directory: %w", err)
	}
	// Another user's directory (in a shared temp folder, say) could feed
	// this session false holds: only the user's own private one will do.
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("the governor's ledger directory: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.IsDir() || (ok && int(st.Uid) != os.Getuid()) || fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("the governor's ledger directory %s is not a directory of yours that only you can write to: remove it or make it so (chmod 700)", dir)
	}
	adm, err := os.OpenFile(filepath.Join(dir, admissionLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the governor's ledger lock: %w", err)
	}
	// The pid and a random part name the session: unique on the machine,
	// not a secret (math/rand, not crypto/rand, whose set-up every
	// launcher run, +statusline included, would pay for).
	d := &DirLedger{
		dir: dir, id: strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64()>>16, 16),
		adm: adm, peers: map[string]*peer{},
	}
	// The session's files are made under the admission lock: a cleaner,
	// which only removes under it, never sees its lock file unlocked.
	if err := d.Lock(); err != nil {
		_ = adm.Close() // nothing written
		return nil, err
	}
	err = d.join()
	if uerr := d.Unlock(); err == nil {
		err = uerr
	}
	if err != nil {
		d.closeFiles()
		_ = adm.Close() // we held it only for this
		return nil, fmt.Errorf("join the governor's ledger in %s: %w", dir, err)
	}
	return d, nil
}

func (d *DirLedger) join() error {
	self, err := os.OpenFile(d.path(d.id, lockExt), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	d.self = self
	// Waited for, not tried: a reader (another session, +status) may have
	// caught the new file before this lock and probes it for a moment.
	// Nothing else takes it: the name is new, and a cleaner needs the
	// admission lock, which this session holds.
	if err := syscall.Flock(int(self.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	if d.state, err = os.OpenFile(d.path(d.id, stateExt), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600); err != nil {
		return err
	}
	return d.bump()
}

func (d *DirLedger) closeFiles() {
	for _, f := range []*os.File{d.state, d.self} {
		if f != nil {
			_ = f.Close() // read-only or already flushed: nothing lost
		}
	}
	for _, p := range d.peers {
		p.close()
	}
}

func (d *DirLedger) path(id, ext string) string {
	return filepath.Join(d.dir, sessionPrefix+id+ext)
}

// generation reads the join/leave count of the admission lock file.
func (d *DirLedger) generation() uint64 {
	var b [8]byte
	if _, err := d.adm.ReadAt(b[:], 0); err != nil {
		return 0 // a new file: nobody counted yet
	}
	return binary.LittleEndian.Uint64(b[:])
}

// decisions reads the count of decisions taken under the lock.
func (d *DirLedger) decisions() uint64 {
	var b [8]byte
	if _, err := d.adm.ReadAt(b[:], 8); err != nil {
		return 0 // nobody counted yet
	}
	return binary.LittleEndian.Uint64(b[:])
}

// bump counts a session joining or leaving; under the admission lock.
func (d *DirLedger) bump() error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], d.generation()+1)
	_, err := d.adm.WriteAt(b[:], 0)
	return err
}

// LockWait bounds how long Lock waits for another session's decision,
// which takes tens of microseconds: longer means that session is stopped
// (Ctrl-Z, a debugger) with the lock in hand, and this one decides alone
// rather than wait for it.
const LockWait = 200 * time.Millisecond

// Lock takes the admission lock, waiting at most LockWait for another
// session's decision. Once it has given up, it does not wait again while
// no decision was taken since (the same session holds the lock still): a
// stopped session would otherwise cost each decision of the others a
// LockWait.
func (d *DirLedger) Lock() error {
	d.mu.Lock()
	stuck := d.stuck && d.decisions() == d.stuckAt
	d.mu.Unlock()
	deadline := time.Now().Add(LockWait)
	for pause := 50 * time.Microsecond; ; pause = min(2*pause, 5*time.Millisecond) {
		err := syscall.Flock(int(d.adm.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("lock %s: %w", d.adm.Name(), err)
		}
		if stuck {
			return fmt.Errorf("lock %s: another session still holds it (stopped?): deciding without the others", d.adm.Name())
		}
		if time.Now().After(deadline) {
			d.mu.Lock()
			d.stuck, d.stuckAt = true, d.decisions()
			d.mu.Unlock()
			return fmt.Errorf("lock %s: another session has held it for over %v (stopped?): deciding without the others", d.adm.Name(), LockWait)
		}
		// flock has no timeout and no signal to wait on: a short pause,
		// growing, while the other session decides.
		time.Sleep(pause)
	}
	d.mu.Lock()
	d.held, d.stuck = true, false
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], d.decisions()+1)
	_, err := d.adm.WriteAt(b[:], 8)
	d.mu.Unlock()
	if err != nil {
		_ = d.Unlock() // the count is lost; the lock must not be
		return fmt.Errorf("count a decision in %s: %w", d.adm.Name(), err)
	}
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

// Publish replaces this session's state, in place.
func (d *DirLedger) Publish(s State) error {
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode the governor's state: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b := fmt.Appendf(d.buf[:0], "%08x %08x\n", len(body), checksum(body))
	b = append(b, body...)
	d.buf = b
	// Written over the old state, never truncated: what follows the new
	// length is the old state's tail, which the header excludes.
	if _, err := d.state.WriteAt(b, 0); err != nil {
		return fmt.Errorf("write the governor's state %s: %w", d.state.Name(), err)
	}
	return nil
}

// Others returns the states of the other live sessions. Under the
// admission lock it also removes the files of dead ones. A state that
// cannot be read is left out, with an error naming its file.
func (d *DirLedger) Others() ([]State, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	if g := d.generation(); g != d.gen {
		errs = append(errs, d.scan())
		d.gen = g
	}
	var states []State
	for id, p := range d.peers {
		if !p.alive() {
			p.close()
			delete(d.peers, id)
			if d.held {
				removeSession(d.dir, id)
				errs = append(errs, d.bump())
			}
			continue
		}
		st, ok, err := p.read()
		errs = append(errs, err)
		if ok {
			states = append(states, st)
		}
	}
	return states, errors.Join(errs...)
}

// scan opens the sessions that joined since the last scan and forgets
// those that left.
func (d *DirLedger) scan() error {
	ids, err := sessions(d.dir)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if id == d.id {
			continue
		}
		seen[id] = true
		if d.peers[id] == nil {
			if p := openPeer(d.dir, id); p != nil {
				d.peers[id] = p
			} else if d.held {
				removeSession(d.dir, id) // its lock file is gone: dead
			}
		}
	}
	for id, p := range d.peers {
		if !seen[id] {
			p.close()
			delete(d.peers, id)
		}
	}
	return nil
}

// sessions lists the ids of the sessions with files in dir.
func sessions(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the governor's ledger: %w", err)
	}
	var ids []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, sessionPrefix) {
			continue
		}
		id := strings.TrimPrefix(name, sessionPrefix)
		id = id[:len(id)-len(filepath.Ext(id))]
		if n := len(ids); n == 0 || ids[n-1] != id { // a session's files sort together
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func removeSession(dir string, id string) {
	for _, ext := range []string{stateExt, lockExt} {
		_ = os.Remove(filepath.Join(dir, sessionPrefix+id+ext)) // best effort: the next cleaner tries again
	}
}

// openPeer opens session id's files; nil when its lock file is gone.
func openPeer(dir, id string) *peer {
	lock, err := os.OpenFile(filepath.Join(dir, sessionPrefix+id+lockExt), os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	p := &peer{id: id, lock: lock}
	p.state, _ = os.Open(filepath.Join(dir, sessionPrefix+id+stateExt)) // opened again when missing
	return p
}

func (p *peer) close() {
	for _, f := range []*os.File{p.lock, p.state} {
		if f != nil {
			_ = f.Close() // read only
		}
	}
}

// alive reports whether the session still holds its lock: a lock we can
// take ourselves means its process is dead (our probe goes with close).
func (p *peer) alive() bool {
	return errors.Is(syscall.Flock(int(p.lock.Fd()), syscall.LOCK_SH|syscall.LOCK_NB), syscall.EWOULDBLOCK)
}

// read returns the session's state; ok is false when none was ever read
// whole. A state caught mid-write is read again, then the last whole one
// is kept.
func (p *peer) read() (State, bool, error) {
	if p.state == nil {
		return State{}, false, nil
	}
	if p.buf == nil {
		p.buf = make([]byte, 16<<10) // most states are far smaller; a bigger one is read whole
	}
	var err error
	for range tornRetries {
		if err = p.decode(); err == nil {
			return p.st, true, nil
		}
		if errors.Is(err, errEmpty) {
			return p.st, p.ok, nil
		}
	}
	if errors.Is(err, errTorn) && p.ok {
		return p.st, true, nil // still being written: the last whole state stands
	}
	return p.st, p.ok, fmt.Errorf("read the governor's state %s: %w (a claude-bedrock of another version? it is ignored)", p.state.Name(), err)
}

var (
	errEmpty = errors.New("no state yet")
	errTorn  = errors.New("torn or corrupt state")
)

// decode reads and checks the state file into p.st; a header the same as
// the last state's is that state again, not decoded twice.
func (p *peer) decode() error {
	n, err := p.state.ReadAt(p.buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	b := p.buf[:n]
	if n == len(p.buf) { // bigger than the buffer: read it all
		if b, err = io.ReadAll(io.NewSectionReader(p.state, 0, 1<<30)); err != nil {
			return err
		}
	}
	if len(b) == 0 {
		return errEmpty
	}
	if len(b) < headerLen || b[8] != ' ' || b[headerLen-1] != '\n' {
		return errors.New("no header")
	}
	size, err1 := strconv.ParseUint(string(b[:8]), 16, 32)
	sum, err2 := strconv.ParseUint(string(b[9:17]), 16, 32)
	if err1 != nil || err2 != nil {
		return errors.New("bad header")
	}
	if p.ok && uint32(size) == p.size && uint32(sum) == p.sum {
		return nil
	}
	body := b[headerLen:]
	if int(size) > len(body) || checksum(body[:size]) != uint32(sum) {
		return errTorn
	}
	var st State
	if err := json.Unmarshal(body[:size], &st); err != nil {
		return err
	}
	p.st, p.ok, p.size, p.sum = st, true, uint32(size), uint32(sum)
	return nil
}

// Close leaves the ledger: this session's files are removed and its lock
// released.
func (d *DirLedger) Close() error {
	lerr := d.Lock()
	d.mu.Lock()
	removeSession(d.dir, d.id)
	var errs []error
	if lerr == nil {
		errs = append(errs, d.bump())
	}
	d.closeFiles()
	d.mu.Unlock()
	if lerr == nil {
		errs = append(errs, d.Unlock())
	}
	errs = append(errs, lerr, d.adm.Close())
	return errors.Join(errs...)
}

// ReadStatus is the Status of the sessions in the ledger in dir at now:
// what `claude-bedrock +status` prints.
func ReadStatus(dir string, now time.Time) (Status, error) {
	states, err := ReadLedger(dir)
	return Summarize(now, states), err
}

// ReadLedger returns the states of every live session in the ledger in
// dir, without changing anything there: what `claude-bedrock +status`
// shows. A missing directory means no session.
func ReadLedger(dir string) ([]State, error) {
	ids, err := sessions(dir)
	if err != nil {
		return nil, err
	}
	var states []State
	var errs []error
	for _, id := range ids {
		p := openPeer(dir, id)
		if p == nil {
			continue
		}
		if p.alive() {
			st, ok, err := p.read()
			errs = append(errs, err)
			if ok {
				states = append(states, st)
			}
		}
		p.close()
	}
	return states, errors.Join(errs...)
}

// checksum is a state's FNV-1a: enough to see a write caught half-done,
// with no table to build at start-up (hash/crc32 builds one in every
// process that links it: the launcher and +statusline).
func checksum(b []byte) uint32 {
	h := fnv.New32a()
	_, _ = h.Write(b) // never fails
	return h.Sum32()
}
