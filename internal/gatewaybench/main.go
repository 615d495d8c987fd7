// Command gatewaybench runs a gateway for the gateway package's memory
// benchmark, as the real gateway process will run: a process of its own that
// reads the session token from a pipe (its stdin), prints the address it
// listens on, and serves until stdin closes. It signs with fixed fake
// credentials and admits every request at once: what it measures is the
// gateway's own footprint, without the test binary's packages.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/claude-bedrock/claude-bedrock/gateway"
	"github.com/claude-bedrock/claude-bedrock/governor"
)

func main() { os.Exit(run(os.Args[1:])) }

// run serves a gateway in front of the upstream URL in args[0].
func run(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: gatewaybench UPSTREAM-URL < token")
		return 2
	}
	in := bufio.NewReader(os.Stdin)
	line, _ := in.ReadString('\n') // a short read fails in ReadToken
	tok, err := gateway.ReadToken(strings.NewReader(line))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	u, err := url.Parse(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	g, err := gateway.New(gateway.Config{Token: tok, Region: "us-west-2",
		Upstream: gateway.Upstream{Runtime: u, Control: u}, Auth: gateway.SigV4,
		Credentials: credentials.NewStaticCredentialsProvider("AKIABENCH", "benchSecret", ""), Pacer: admitAll{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := gateway.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, in) // until the benchmark closes stdin
		cancel()
	}()
	if err := g.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// admitAll is a Pacer that admits every request at once.
type admitAll struct{}

func (admitAll) Acquire(context.Context, governor.Request) (governor.Lease, error) {
	return lease{}, nil
}

type lease struct{}

func (lease) Waited() time.Duration    { return 0 }
func (lease) Started(int)              {}
func (lease) Throttled() bool          { return false }
func (lease) Done(governor.Usage, int) {}
