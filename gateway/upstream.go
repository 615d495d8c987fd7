package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
)

// Upstream is where the gateway forwards: the Bedrock runtime (model
// invocations) and the Bedrock control plane (inference profiles, models).
type Upstream struct {
	// Runtime takes the model invocations (bedrock-runtime).
	Runtime *url.URL
	// Control takes everything else (bedrock: inference profiles, models).
	Control *url.URL
}

// ResolveUpstream finds the upstream endpoints for region from the user's
// environment the way Claude Code and the AWS SDKs would have reached
// Bedrock without the gateway:
//   - ANTHROPIC_BEDROCK_BASE_URL (the user's own gateway, for instance a
//     corporate one) takes every request, as it does in Claude Code;
//   - otherwise AWS_ENDPOINT_URL_BEDROCK_RUNTIME, then AWS_ENDPOINT_URL, for
//     the runtime, and AWS_ENDPOINT_URL_BEDROCK, then AWS_ENDPOINT_URL, for
//     the control plane, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (as
//     the doctor reads them);
//   - otherwise the regional AWS endpoints, bedrock-runtime.REGION and
//     bedrock.REGION.
func ResolveUpstream(env map[string]string, region string) (Upstream, error) {
	if v := env["ANTHROPIC_BEDROCK_BASE_URL"]; v != "" {
		u, err := endpointURL("ANTHROPIC_BEDROCK_BASE_URL", v)
		return Upstream{Runtime: u, Control: u}, err
	}
	var up Upstream
	for _, e := range []struct {
		dst     **url.URL
		service string // as in AWS_ENDPOINT_URL_<SERVICE>
		host    string
	}{
		{&up.Runtime, "BEDROCK_RUNTIME", "bedrock-runtime"},
		{&up.Control, "BEDROCK", "bedrock"},
	} {
		var err error
		if name, v := endpointOverride(env, e.service); v != "" {
			*e.dst, err = endpointURL(name, v)
		} else {
			*e.dst, err = regionalEndpoint(e.host, region)
		}
		if err != nil {
			return Upstream{}, err
		}
	}
	return up, nil
}

// endpointOverride returns the variable that overrides a service's endpoint,
// and its value, as the AWS SDKs read them.
func endpointOverride(env map[string]string, service string) (name, value string) {
	if strings.EqualFold(env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"], "true") {
		return "", ""
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_" + service, "AWS_ENDPOINT_URL"} {
		if v := env[k]; v != "" {
			return k, v
		}
	}
	return "", ""
}

// endpointURL parses the value of an endpoint variable.
func endpointURL(name, v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s=%q is not an http(s) URL with a host: set it to one such as https://host:port, or unset it", name, v)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	return u, nil
}

// regionalEndpoint is AWS's own endpoint of a Bedrock service in region.
func regionalEndpoint(host, region string) (*url.URL, error) {
	if region == "" {
		return nil, fmt.Errorf("no AWS region for the Bedrock endpoint: set region in the claude-bedrock profile or AWS_REGION")
	}
	if strings.ContainsAny(region, "/:@?#. ") {
		return nil, fmt.Errorf("region %q is not an AWS region name: set one such as us-west-2", region)
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return &url.URL{Scheme: "https", Host: host + "." + region + "." + suffix}, nil
}

// AuthMode is how the gateway authenticates to its upstream.
type AuthMode int

const (
	// SigV4 signs every request with the AWS credentials of the profile
	// (service "bedrock"), as Claude Code would have.
	SigV4 AuthMode = iota
	// Bearer sends the user's own Bedrock API key as Authorization: Bearer.
	Bearer
	// NoAuth sends requests without authentication: the user's own gateway
	// with CLAUDE_CODE_SKIP_BEDROCK_AUTH authenticates them itself.
	NoAuth
)

// String names the mode for messages.
func (m AuthMode) String() string {
	switch m {
	case SigV4:
		return "SigV4"
	case Bearer:
		return "bearer"
	case NoAuth:
		return "none"
	}
	return fmt.Sprintf("AuthMode(%d)", int(m))
}

// AuthFromEnv says how Claude Code would have authenticated with the user's
// environment: with their own Bedrock API key (AWS_BEARER_TOKEN_BEDROCK,
// returned as key), which Claude Code sends even when
// CLAUDE_CODE_SKIP_BEDROCK_AUTH is set; else not at all when
// CLAUDE_CODE_SKIP_BEDROCK_AUTH is set; else with SigV4.
func AuthFromEnv(env map[string]string) (mode AuthMode, key string) {
	if k := env["AWS_BEARER_TOKEN_BEDROCK"]; k != "" {
		return Bearer, k
	}
	switch strings.ToLower(env["CLAUDE_CODE_SKIP_BEDROCK_AUTH"]) {
	case "1", "true", "yes", "on":
		return NoAuth, ""
	}
	return SigV4, ""
}

// credentialsExpiryWindow is how long before they expire the gateway
// refreshes temporary credentials, so that no request is signed with
// credentials that lapse while it waits in the queue or streams.
const credentialsExpiryWindow = 5 * time.Minute

// LoadCredentials returns the AWS SDK's credential chain for the AWS profile
// (the default chain when profile is ""): static keys, SSO,
// credential_process, assume-role, web identity, container and instance
// roles, read from the process environment and the shared AWS files as every
// AWS SDK reads them. The provider caches the credentials and refreshes them
// before they expire. LoadCredentials fetches them once, so that a profile
// without usable credentials is an error now rather than a refused request
// later, unless authRefresh says that Claude Code runs the user's
// awsAuthRefresh: then claude is about to refresh them itself (it does at
// start when they fail), and the gateway waits for that (see Credentials).
// The error never contains a credential.
func LoadCredentials(ctx context.Context, profile string, authRefresh bool) (*Credentials, error) {
	name := "the default AWS credential chain"
	if profile != "" {
		name = fmt.Sprintf("AWS profile %q", profile)
	}
	load := func(ctx context.Context) (aws.CredentialsProvider, error) {
		return loadChain(ctx, profile, name)
	}
	chain, err := load(ctx)
	if err != nil {
		return nil, err
	}
	c := NewCredentials(chain, load, authRefresh)
	if _, err := chain.Retrieve(ctx); err != nil && !authRefresh {
		// Not err's text: the SDK's may quote a credential_process's
		// output, secrets included (see credentialsError).
		return nil, credentialsError{from: name, err: err}
	}
	return c, nil
}

// loadChain loads the AWS SDK's credential chain for profile afresh: the
// shared files are read again.
func loadChain(ctx context.Context, profile, name string) (aws.CredentialsProvider, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = credentialsExpiryWindow
		}),
		// The SDK's warnings would land in the middle of claude's screen.
		config.WithLogger(logging.Nop{}),
		config.WithLogConfigurationWarnings(false),
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// Not the SDK's text: it can quote a line of the shared files, and
		// this line may reach claude's screen and transcript. The doctor
		// shows it on the terminal.
		return nil, fmt.Errorf("cannot load %s: run 'claude-bedrock +doctor' to see why", name)
	}
	creds := cfg.Credentials
	if creds == nil {
		return nil, fmt.Errorf("no AWS credentials in %s: run 'claude-bedrock +doctor' to see why", name)
	}
	if _, ok := creds.(*aws.CredentialsCache); !ok {
		creds = aws.NewCredentialsCache(creds, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = credentialsExpiryWindow
		})
	}
	return creds, nil
}

// Renewal of credentials that Bedrock refused or the chain failed to give.
const (
	// RefreshWait bounds how long a request waits for the credentials
	// Claude Code's awsAuthRefresh writes at the start of a session: Claude
	// Code itself gives that command three minutes.
	RefreshWait = 3 * time.Minute
	// renewPoll is how soon a waiting request loads the chain again, at
	// first; the wait doubles up to maxRenewPoll, for a credential_process
	// or an awsCredentialExport runs at each load, and one that opens a
	// browser or asks for a token must not run twice a second for minutes.
	renewPoll    = 500 * time.Millisecond
	maxRenewPoll = 4 * time.Second
	// maxRenewals bounds how often one request goes again with renewed
	// credentials.
	maxRenewals = 2
)

// Credentials are the credentials the gateway signs with: a chain that can
// be loaded afresh (Renew), so that what the user's refresh wrote — an SSO
// login's token, a new credentials file, a credential_process's new output —
// signs the next request, and never anything but what the chain gives.
//
// Measured with Claude Code 2.1.328 (internal/claudetest, a loopback fake,
// a settings file with awsAuthRefresh): when claude talks to the gateway
// with ANTHROPIC_BEDROCK_BASE_URL and AWS_BEARER_TOKEN_BEDROCK, it still
// checks the user's AWS credentials at start (STS GetCallerIdentity, with its
// own chain) and, when that fails, runs awsAuthRefresh on the terminal (a
// "Sign-in" box in the TUI, its debug log under -p). It does not wait for the
// command before its first turn: that turn, refused with a credential error,
// is retried about five times in four seconds. Later in the session it never
// runs awsAuthRefresh by itself: a 403 ExpiredTokenException or
// UnrecognizedClientException ends the turn with "AWS authentication failed ·
// run /login and select … refresh credentials, or run `<awsAuthRefresh>` in
// another terminal". (Signing with SigV4 itself, as without the gateway, it
// runs the command on those 403s and retries; on 400 and 401 it does not.)
// So, while the credentials have never worked in this session and Claude
// Code runs awsAuthRefresh, a request they fail waits (up to RefreshWait) for
// the chain to give other credentials, and goes with those; later, a
// refused request is renewed once and otherwise passes Bedrock's refusal to
// claude unchanged, whose message tells the user what to run.
type Credentials struct {
	load        func(context.Context) (aws.CredentialsProvider, error)
	authRefresh bool

	mu      sync.Mutex
	cur     aws.CredentialsProvider
	renewed time.Time // the last Renew
	worked  bool      // Bedrock accepted them once in this session
}

// NewCredentials returns Credentials that sign with chain and, to renew,
// call load for a fresh one. authRefresh says that Claude Code runs the
// user's awsAuthRefresh at the start of the session when the credentials
// fail.
func NewCredentials(chain aws.CredentialsProvider, load func(context.Context) (aws.CredentialsProvider, error), authRefresh bool) *Credentials {
	return &Credentials{load: load, authRefresh: authRefresh, cur: chain}
}

// Retrieve returns the current chain's credentials.
func (c *Credentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c.mu.Lock()
	p := c.cur
	c.mu.Unlock()
	return p.Retrieve(ctx)
}

// Renew loads the chain afresh, at most once per renewPoll whoever asks; a
// chain that no longer loads keeps the old one.
func (c *Credentials) Renew(ctx context.Context) {
	c.mu.Lock()
	if time.Since(c.renewed) < renewPoll {
		c.mu.Unlock()
		return
	}
	c.renewed = time.Now()
	c.mu.Unlock()
	p, err := c.load(ctx)
	if err != nil {
		return // the requests that wait see the old chain's error
	}
	c.mu.Lock()
	c.cur = p
	c.mu.Unlock()
}

// Worked notes that Bedrock accepted the credentials: from now on a
// failure is not the start of a session, which Claude Code refreshes.
func (c *Credentials) Worked() {
	c.mu.Lock()
	c.worked = true
	c.mu.Unlock()
}

// waits reports whether a request the credentials failed waits for new
// ones, and how long.
func (c *Credentials) waits() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.authRefresh && !c.worked {
		return RefreshWait
	}
	return 0
}

// credsID tells credentials apart without keeping them.
type credsID [sha256.Size]byte

func idOf(c aws.Credentials) credsID {
	return sha256.Sum256([]byte(c.AccessKeyID + "\x00" + c.SessionToken))
}

// Next renews the chain until it gives credentials other than those with
// id old (the zero id: any), for as long as waits allows (when wait is set)
// or ctx lasts; it reports whether it found them.
func (c *Credentials) Next(ctx context.Context, old credsID, wait bool) bool {
	deadline := time.Now()
	if wait {
		deadline = deadline.Add(c.waits())
	}
	poll := renewPoll
	for {
		c.Renew(ctx)
		if creds, err := c.Retrieve(ctx); err == nil && creds.HasKeys() && idOf(creds) != old {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		t := time.NewTimer(poll)
		poll = min(2*poll, maxRenewPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// credentialRefusal reports whether Bedrock refused a request for its
// credentials, in a way that other credentials may cure: expired or unknown
// (a signature that does not match is a signing fault, not one of them).
func credentialRefusal(resp *http.Response) bool {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
		return false
	}
	typ, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	switch typ {
	case "ExpiredTokenException", "UnrecognizedClientException", "InvalidClientTokenId":
		return true
	}
	return false
}

// maxRefusalBody bounds the refusal body kept while a request waits for
// new credentials: Bedrock's are a short JSON message.
const maxRefusalBody = 64 << 10

// renewAfter looks at Bedrock's answer to a request signed with the
// credentials of id used. A credential refusal renews the credentials; it
// reports whether the request should go again, with other ones. Otherwise
// resp is returned, the refusal byte for byte, and any other answer notes
// that the credentials work.
func (g *Gateway) renewAfter(ctx context.Context, c *call, resp *http.Response) (*http.Response, bool) {
	creds, ok := g.creds.(*Credentials)
	if !ok || g.auth != SigV4 {
		return resp, false
	}
	if !credentialRefusal(resp) {
		if resp.StatusCode < 500 {
			creds.Worked()
		}
		return resp, false
	}
	if c.renewals >= maxRenewals {
		return resp, false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRefusalBody+1))
	if err != nil || len(body) > maxRefusalBody {
		// Not a refusal to keep while waiting: pass on what there is.
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return resp, false
	}
	_ = resp.Body.Close() // read whole; nothing to flush
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.releaseLease(resp.StatusCode) // no quota held while it waits
	if !creds.Next(ctx, c.signedWith, c.waitsForCredentials()) {
		return resp, false
	}
	c.renewals++
	g.log.Printf("gateway: %s: Bedrock refused the AWS credentials (%d); going again with renewed ones", c.rt.path, resp.StatusCode)
	return nil, true
}

// awaitCredentials is called when a request could not be signed: when
// the chain gave no credentials, it reports whether it gives some now
// (waiting, at the start of a session Claude Code refreshes, for its
// awsAuthRefresh).
func (g *Gateway) awaitCredentials(ctx context.Context, c *call, err error) bool {
	creds, ok := g.creds.(*Credentials)
	var ce credentialsError
	if !ok || !errors.As(err, &ce) || c.renewals >= maxRenewals {
		return false
	}
	c.releaseLease(http.StatusForbidden)
	if !creds.Next(ctx, credsID{}, c.waitsForCredentials()) {
		return false
	}
	c.renewals++
	return true
}

// waitsForCredentials reports whether the call may wait for credentials:
// a turn may. Claude Code checks the credentials, and runs awsAuthRefresh,
// only once its start-up requests (the control plane's inference profiles,
// the max_tokens 1 probes) are answered (measured): held, they would hold
// the refresh up until claude gives up on them (8 s each).
func (c *call) waitsForCredentials() bool {
	return c.rt.model != "" && paced(c.rt.op) && !c.req.Probe
}

type readCloser struct {
	io.Reader
	io.Closer
}
