package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// Supervision of the gateway process (the protocol is in package
// gatewayspec).
const (
	// firstStartDelay: the gateway starts this long after claude. Claude
	// takes about a second to send its first request (which waits in the
	// socket's backlog until the gateway accepts it), so the gateway is
	// warm by then, while a claude that exits at once (a failed start, the
	// launch benchmark's) never costs a gateway.
	firstStartDelay = 100 * time.Millisecond
	// quickDeath: a gateway that exits sooner than this after its start
	// counts as failing to start.
	quickDeath = 5 * time.Second
	// restartDelay is the pause before restarting after the first quick
	// death; it doubles with each further one. A gateway that ran longer is
	// restarted at once.
	restartDelay = 100 * time.Millisecond
	// maxQuickDeaths: after this many quick deaths in a row the launcher
	// gives up and answers claude's requests itself with an error that
	// says why (answerAll), instead of leaving them to wait for a gateway
	// that will not come.
	maxQuickDeaths = 4
	// stopGrace is how long the gateway has to end after SIGTERM.
	stopGrace = 2 * time.Second
	// maxErrLine bounds the gateway's error line kept for the report.
	maxErrLine = 300
)

// gateway is the gateway process of one session, supervised: started
// beside claude on a socket the launcher holds, restarted on the same
// socket when it dies, stopped when claude has exited.
type gateway struct {
	path   string
	env    []string // the launcher's environment; the gateway's is gatewayEnv(env)
	spec   *gatewayspec.Spec
	url    string
	log    *log.Logger
	lfd    int // the listening socket's descriptor, handed to each gateway as fd 3
	timer  *time.Timer
	lifeR  *os.File // handed to each gateway as fd 4
	lifeW  *os.File // held by the launcher alone: its end is the lifeline's EOF
	errR   *os.File // the gateways' stdout and stderr, read by the launcher
	errW   *os.File
	stopCh chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	lclosed  bool // the socket is closed
	pid      int  // the running gateway, 0 when none
	stopping bool
	started  int    // how many times it was started
	deaths   int    // how many times it ended while claude ran
	gaveUp   string // why the launcher stopped restarting it, "" while it has not
	errLine  string // the first line the gateways wrote
	exitErr  string // how the first gateway that failed ended, for when none wrote a line
}

// newGateway binds the session's listening socket on 127.0.0.1 and
// prepares the descriptors; start starts the supervision.
func newGateway(path string, env []string, spec *gatewayspec.Spec, logger *log.Logger) (*gateway, error) {
	lfd, port, err := listenLoopback()
	if err != nil {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1: %w", err)
	}
	return &gateway{path: path, env: env, spec: spec, log: logger, lfd: lfd,
		url: "http://127.0.0.1:" + strconv.Itoa(port), stopCh: make(chan struct{}), done: make(chan struct{})}, nil
}

// pipes makes the lifeline and the pipe of the gateway's output, and the
// gateway's environment, at its first start: a claude that never needs a
// gateway never pays for them.
func (g *gateway) pipes() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.env = gatewayEnv(g.env)
	var err error
	if g.lifeR, g.lifeW, err = blockingPipe(); err == nil {
		g.errR, g.errW, err = blockingPipe()
	}
	return err
}

// blockingPipe is os.Pipe without the runtime's poller: the launcher's
// descriptors stay out of it (an idle poller changes how the runtime
// schedules, which measurably slowed the launch in a PTY), at the cost of a
// thread blocked in the one read of the gateway's output.
func blockingPipe() (r, w *os.File, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err = syscall.Pipe(p[:])
	if err == nil {
		syscall.CloseOnExec(p[0])
		syscall.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}

// listenLoopback returns a TCP socket listening on 127.0.0.1 at a port the
// kernel chose, close-on-exec (claude must not hold it), and the port. It
// uses the system calls directly: the net package is not linked into the
// launcher, whose start it would slow down.
func listenLoopback() (fd, port int, err error) {
	if fd, err = socketCloseOnExec(); err != nil {
		return -1, 0, err
	}
	if err = syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err == nil {
		err = syscall.Listen(fd, syscall.SOMAXCONN)
	}
	var sa syscall.Sockaddr
	if err == nil {
		sa, err = syscall.Getsockname(fd)
	}
	if err != nil {
		_ = syscall.Close(fd) // unused
		return -1, 0, err
	}
	return fd, sa.(*syscall.SockaddrInet4).Port, nil
}

// start begins supervising: the gateway process starts after
// firstStartDelay. A runtime timer, not a goroutine waiting: a claude that
// ends sooner costs nothing more.
func (g *gateway) start() { g.timer = time.AfterFunc(firstStartDelay, g.supervise) }

func (g *gateway) supervise() {
	defer close(g.done)
	if g.isStopping() {
		return
	}
	if err := g.pipes(); err != nil {
		g.giveUp("the gateway's pipes: " + err.Error())
		return
	}
	go g.readErrors()
	// The parent-death signal goes to the gateway when the thread that
	// started it ends, not the process: keep this goroutine on its thread
	// for as long as a gateway can run (it is never unlocked, so the thread
	// ends with the goroutine, after the last gateway was reaped).
	runtime.LockOSThread()
	quick := 0
	for {
		began := time.Now()
		err := g.runOnce()
		if g.isStopping() {
			return
		}
		g.mu.Lock()
		g.deaths++
		if err != nil && g.exitErr == "" {
			g.exitErr = err.Error() // its own line may still be in the pipe: report reads both
		}
		g.mu.Unlock()
		if time.Since(began) < quickDeath {
			quick++
		} else {
			quick = 0
		}
		if quick >= maxQuickDeaths {
			g.giveUp(fmt.Sprintf("the gateway (%s +gateway) ended %d times within seconds of starting", g.path, quick))
			return
		}
		delay := time.Duration(0)
		if quick > 0 {
			delay = restartDelay << (quick - 1)
		}
		g.log.Printf("gateway ended (%v); starting it again in %v", err, delay)
		t := time.NewTimer(delay)
		select {
		case <-g.stopCh:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// runOnce starts one gateway process and waits for it to end.
func (g *gateway) runOnce() error {
	pid, err := g.spawn()
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.pid = pid
	g.started++
	if g.stopping {
		_ = syscall.Kill(-pid, syscall.SIGTERM) // stop came while it started
	}
	g.mu.Unlock()
	forget := func() {
		g.mu.Lock()
		g.pid = 0
		g.mu.Unlock()
	}
	// Where it can, wait for the end without reaping: the process stays a
	// zombie, its pid reserved, so a signal sent to it meanwhile reaches
	// nothing else. Elsewhere stop still signals it while Wait4 waits.
	reserved := waitExited(pid)
	if reserved {
		forget()
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if !reserved {
		forget()
	}
	switch {
	case err != nil:
		return err
	case ws.Signaled():
		return fmt.Errorf("killed by %v", ws.Signal())
	}
	return fmt.Errorf("exit status %d", ws.ExitStatus())
}

// spawn starts `claude-bedrock-doctor +gateway` with the Spec on its stdin
// and the descriptors of the protocol.
func (g *gateway) spawn() (int, error) {
	var spec bytes.Buffer
	if err := gatewayspec.Write(&spec, g.spec); err != nil {
		return 0, err
	}
	r, w, err := blockingPipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()                // the gateway has its own copy
	_, err = w.Write(spec.Bytes()) // fits in the pipe's buffer (gatewayspec.MaxSize)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	files := []uintptr{r.Fd(), g.errW.Fd(), g.errW.Fd(), uintptr(g.lfd), g.lifeR.Fd()}
	pid, err := syscall.ForkExec(g.path, []string{g.path, "+gateway"}, &syscall.ProcAttr{Env: g.env, Files: files, Sys: gatewaySysProcAttr()})
	runtime.KeepAlive(g.errW)
	runtime.KeepAlive(g.lifeR)
	if err != nil {
		return 0, fmt.Errorf("starting %s: %w", g.path, err)
	}
	return pid, nil
}

// readErrors keeps the first line the gateways write and drops the rest:
// they never write to the terminal while claude runs.
func (g *gateway) readErrors() {
	br := bufio.NewReaderSize(g.errR, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := string(bytes.TrimSpace(line[:min(len(line), maxErrLine)]))
			g.mu.Lock()
			if g.errLine == "" && text != "" {
				g.errLine = text
			}
			g.mu.Unlock()
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (g *gateway) isStopping() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopping
}

// giveUp stops restarting the gateway, and answers claude's requests
// itself until stop.
func (g *gateway) giveUp(why string) {
	g.mu.Lock()
	g.gaveUp = why
	g.mu.Unlock()
	g.answerAll()
}

// answerAll answers, once the launcher has given up on the gateway, every
// request claude sends to the session's socket with one error that names
// why and what to do, until stop: claude shows it at once
// ("API Error: 400 claude-bedrock: …", measured with Claude Code 2.1.328:
// a 400 is not retried), where a closed port would have shown "Connection
// refused" and the reason only after claude exited. It takes no more of
// the launch than the socket it already holds.
func (g *gateway) answerAll() {
	if err := syscall.SetNonblock(g.lfd, true); err != nil { // no gateway shares it any more
		g.log.Printf("answering claude's requests: %v", err)
		return
	}
	for !g.isStopping() {
		// A bounded wait, so that stop is noticed: stop closes the socket
		// only after this returns.
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(g.lfd), Events: unix.POLLIN}}, 100)
		if n <= 0 || err != nil {
			continue // the wait ran out, or a signal came
		}
		syscall.ForkLock.RLock() // claude may be started again meanwhile: it must not hold the connection
		fd, _, err := syscall.Accept(g.lfd)
		if err == nil {
			syscall.CloseOnExec(fd)
		}
		syscall.ForkLock.RUnlock()
		if err != nil {
			continue // the connection went away meanwhile
		}
		if err := syscall.SetNonblock(fd, false); err != nil { // it inherits the socket's O_NONBLOCK on BSD and macOS
			_ = syscall.Close(fd) // unused
			continue
		}
		go g.answer(fd)
	}
}

// answerTimeout bounds each read and write of an answer.
const answerTimeout = 5 * time.Second

// answer reads one request's head from connection fd, writes the error
// (the head alone for HEAD), and closes the connection once claude has
// sent the rest: closing with a body unread would reset the connection and
// lose the answer.
func (g *gateway) answer(fd int) {
	defer syscall.Close(fd) // nothing buffered: the answer went out in one write
	tv := syscall.NsecToTimeval(answerTimeout.Nanoseconds())
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv) // without them the reads wait longer, that is all
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) && len(head) < 64<<10 {
		n, err := ignoringEINTR(syscall.Read, fd, buf)
		if n <= 0 || err != nil {
			return
		}
		head = append(head, buf[:n]...)
	}
	resp := g.refusal(bytes.HasPrefix(head, []byte("HEAD ")))
	for len(resp) > 0 {
		n, err := ignoringEINTR(syscall.Write, fd, resp)
		if n <= 0 || err != nil {
			return
		}
		resp = resp[n:]
	}
	_ = syscall.Shutdown(fd, syscall.SHUT_WR) // the answer is complete: claude reads it to the end
	for {
		if n, err := ignoringEINTR(syscall.Read, fd, buf); n <= 0 || err != nil {
			return // claude closed its end, or went quiet
		}
	}
}

// ignoringEINTR calls op until a signal does not interrupt it: with a
// socket timeout set, the kernel does not restart a read or write that a
// signal (claude's children ending: SIGCHLD) interrupts.
func ignoringEINTR(op func(int, []byte) (int, error), fd int, p []byte) (int, error) {
	for {
		n, err := op(fd, p)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// refusal is the HTTP answer to every request once the launcher has given
// up on the gateway: a Bedrock-style ValidationException whose message
// says why and what to do.
func (g *gateway) refusal(headOnly bool) []byte {
	g.mu.Lock()
	msg := "claude-bedrock: the governor's gateway could not start"
	if e := g.firstError(); e != "" {
		msg += " (" + e + ")"
	}
	g.mu.Unlock()
	msg += "; run claude-bedrock +doctor, or set governor = false in profile " + g.spec.Profile + " to go to Bedrock directly, then start claude again"
	body := `{"message":` + profiles.JSONString(msg) + "}"
	out := "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nx-amzn-ErrorType: ValidationException\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n"
	if !headOnly {
		out += body
	}
	return []byte(out)
}

// closeListener closes the launcher's socket; nobody else holds it once the
// gateway is gone: the port closes. With g.mu held.
func (g *gateway) closeListener() {
	if !g.lclosed {
		g.lclosed = true
		_ = syscall.Close(g.lfd) // a socket: nothing to flush
	}
}

// stop ends the gateway after claude has exited: SIGTERM to its process
// group and EOF on its lifeline (either ends it; the lifeline on every
// system, even while the supervisor does not know its pid), a bounded wait,
// then SIGKILL; then it closes the launcher's descriptors and removes the
// status snapshot.
func (g *gateway) stop() {
	g.mu.Lock()
	g.stopping = true
	if g.pid > 0 {
		_ = syscall.Kill(-g.pid, syscall.SIGTERM) // best effort: it may have just ended
	}
	if g.lifeW != nil {
		_ = g.lifeW.Close() // never written to: nothing to lose
		g.lifeW = nil
	}
	g.mu.Unlock()
	close(g.stopCh)
	if g.timer.Stop() {
		// No gateway was started (claude ended before it was due):
		// nothing to wait for.
		g.mu.Lock()
		g.closeListener()
		g.mu.Unlock()
		return
	}
	select {
	case <-g.done:
	case <-time.After(stopGrace):
		g.mu.Lock()
		if g.pid > 0 {
			_ = syscall.Kill(-g.pid, syscall.SIGKILL)
		}
		g.mu.Unlock()
		select {
		case <-g.done:
		case <-time.After(stopGrace):
			g.log.Printf("the gateway did not end after SIGKILL")
		}
	}
	g.closeFiles()
	_ = os.Remove(gatewayspec.StatusPath(g.spec.RuntimeDir, g.spec.SessionID)) // the gateway removes it itself unless it was killed
}

func (g *gateway) closeFiles() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closeListener()
	for _, f := range []*os.File{g.lifeR, g.lifeW, g.errR, g.errW} {
		if f != nil {
			_ = f.Close() // ours alone; nothing was written to them that a close could lose
		}
	}
}

// firstError is the gateways' first error line, else how one ended.
// Called with g.mu held.
func (g *gateway) firstError() string {
	if g.errLine != "" {
		return g.errLine
	}
	return g.exitErr
}

// report is what to say on stderr after claude exited: "" when the
// gateway served the whole session.
func (g *gateway) report(profile string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gaveUp == "" {
		if g.deaths > 0 {
			g.log.Printf("the gateway ended %d times during the session and was started again; its first error: %s", g.deaths, g.firstError())
		}
		return ""
	}
	line := "governor: " + g.gaveUp + ", so claude's requests were answered with an error after that"
	if e := g.firstError(); e != "" {
		line += "; its first error: " + e
	}
	return line + "; run claude-bedrock +doctor, or set governor = false in profile " + profile
}
