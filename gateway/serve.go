package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Listen opens a TCP listener on addr ("127.0.0.1:0" for any free port),
// refusing any address that is not loopback: the gateway holds the user's
// AWS credentials and must never be reachable from another machine. A host
// name other than "localhost" is refused too, since it could resolve
// anywhere.
func Listen(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("gateway: listen address %q is not loopback: use 127.0.0.1 or [::1]", addr)
	}
	return net.Listen("tcp", net.JoinHostPort(ip.String(), port))
}

// checkLoopback refuses a listener that is not on a loopback address, such
// as one handed over by another process.
func checkLoopback(a net.Addr) error {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsLoopback() {
		return fmt.Errorf("gateway: will not serve on %s: not a loopback TCP address", a)
	}
	return nil
}

// Serve answers requests on ln until ctx is done, then stops accepting,
// lets the requests in flight finish for the ShutdownGrace and cuts the rest
// (Claude Code retries a request that fails as a network error). It refuses
// a listener that is not on loopback. It returns nil after a shutdown, or
// the error that stopped the server.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	if err := checkLoopback(ln.Addr()); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          g.log,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), g.grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close() // the grace is over: cut what is still streaming
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ReadToken reads the session token from r, the pipe the launcher writes it
// to: one line, at most 1 KiB, surrounding space removed.
func ReadToken(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, 1024), 1024).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("gateway: read the session token: %w", err)
	}
	tok := strings.TrimSpace(line)
	if len(tok) < MinTokenLen {
		return "", fmt.Errorf("gateway: the session token from the launcher is missing or shorter than %d characters", MinTokenLen)
	}
	return tok, nil
}
