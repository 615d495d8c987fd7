package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/claude-bedrock/claude-bedrock/doctor"
	"github.com/claude-bedrock/claude-bedrock/gateway"
	"github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
	"github.com/claude-bedrock/claude-bedrock/models"
	"github.com/claude-bedrock/claude-bedrock/quota"
)

// gatewayMemoryLimit is the soft memory limit of a session's gateway: with
// it, 200 streams stay under 30 MiB resident (docs/benchmarks.md).
const gatewayMemoryLimit = 20 << 20

// gatewayMain is `claude-bedrock-doctor +gateway`: the session gateway the
// launcher starts beside claude, on the listener and with the Spec it hands
// over (package gatewayspec has the protocol). It writes nothing but a
// failure to stderr, which the launcher shows after claude has exited.
func gatewayMain(stdin io.Reader, stderr io.Writer) int {
	listenerFile, lifeline := gatewayspec.TakeFiles()
	spec, err := gatewayspec.Read(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "claude-bedrock: gateway: %v\n", err)
		return 1
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(gatewayMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	gatewayspec.WatchLifeline(lifeline, stop)

	ln, err := net.FileListener(listenerFile)
	_ = listenerFile.Close() // FileListener made its own copy
	if err != nil {
		fmt.Fprintf(stderr, "claude-bedrock: gateway: the launcher's socket: %v\n", err)
		return 1
	}
	g, closeAll, err := newGateway(ctx, spec, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "claude-bedrock: gateway: %v\n", err)
		return 1
	}
	defer closeAll()
	if err := g.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "claude-bedrock: gateway: %v\n", err)
		return 1
	}
	return 0
}

// newGateway builds the gateway a Spec describes: the upstream and its
// authentication as claude would have used them, the governor over the
// user's shared ledger, and the usage record.
func newGateway(ctx context.Context, spec *gatewayspec.Spec, stderr io.Writer) (*gateway.Gateway, func(), error) {
	env := map[string]string{}
	for k, v := range spec.Endpoints {
		env[k] = v
	}
	if spec.Upstream.BaseURL != "" {
		env["ANTHROPIC_BEDROCK_BASE_URL"] = spec.Upstream.BaseURL
	}
	if spec.Upstream.BearerToken != "" {
		env["AWS_BEARER_TOKEN_BEDROCK"] = spec.Upstream.BearerToken
	}
	if spec.Upstream.SkipAuth != "" {
		env["CLAUDE_CODE_SKIP_BEDROCK_AUTH"] = spec.Upstream.SkipAuth
	}
	up, err := gateway.ResolveUpstream(env, spec.Region)
	if err != nil {
		return nil, nil, err
	}
	cfg := gateway.Config{
		Token:    spec.Token,
		Region:   spec.Region,
		Upstream: up,
		Session:  spec.SessionID,
		Profile:  spec.Profile,
		Log:      log.New(stderr, "claude-bedrock: gateway: ", 0),
	}
	cfg.Auth, cfg.APIKey = gateway.AuthFromEnv(env)
	if cfg.Auth == gateway.SigV4 {
		if spec.AWSCredentialExport != "" {
			cfg.Credentials = exportedCredentials(spec.AWSCredentialExport, spec.AWSAuthRefresh)
		} else if cfg.Credentials, err = gateway.LoadCredentials(ctx, spec.AWSProfile, spec.AWSAuthRefresh); err != nil {
			return nil, nil, err
		}
	}

	var ledger governor.Ledger
	err = gatewayspec.PrepareDir(spec.RuntimeDir)
	if err == nil {
		var l *governor.DirLedger
		if l, err = governor.OpenLedger(gatewayspec.LedgerDir(spec.RuntimeDir)); err == nil {
			ledger = l
		}
	}
	if err != nil {
		cfg.Log.Printf("no shared ledger, this session paces alone: %v", err)
	}
	quotas := &quotaSource{spec: spec, creds: cfg.Credentials, log: cfg.Log}
	gov := governor.New(governor.Options{
		Limits: quotas.limits,
		Ledger: ledger,
		Logf:   cfg.Log.Printf,
	})
	cfg.Pacer = gov
	usage := &usageLog{path: filepath.Join(spec.StateDir, "usage.jsonl")}
	pub := &statusPublisher{path: gatewayspec.StatusPath(spec.RuntimeDir, spec.SessionID), gov: gov}
	cfg.Record = func(r gateway.Record) {
		usage.append(r)
		pub.publish()
	}
	g, err := gateway.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go pub.run(done)
	return g, func() {
		close(done)
		pub.remove()
		_ = gov.Close() // best effort: the session ends
		if c, ok := ledger.(io.Closer); ok {
			_ = c.Close() // the kernel drops the session's locks anyway
		}
	}, nil
}

// quotaMemo is how long the limits read from the doctor's cache serve
// before the cache is read again: the governor asks at every decision.
const quotaMemo = 30 * time.Second

// quotaSource gives the governor each bucket's quotas: the profile's own
// tokens_per_minute and requests_per_minute first, else what Service Quotas
// says (the doctor's cache, looked up in the background when it has no
// fresh entry), else unknown (then only 429s teach the governor a limit).
type quotaSource struct {
	spec  *gatewayspec.Spec
	creds aws.CredentialsProvider // signs the lookup; nil: the SDK's chain
	log   *log.Logger

	mu    sync.Mutex
	memo  map[governor.Bucket]memoLimits
	asked map[governor.Bucket]bool
	// looked is told when a background lookup has ended (tests).
	looked func(governor.Bucket, error)
}

type memoLimits struct {
	at     time.Time
	limits governor.Limits
}

// limits is the governor's Limits function.
func (s *quotaSource) limits(b governor.Bucket) governor.Limits {
	spec := s.spec
	if spec.TokensPerMinute > 0 {
		return governor.Limits{TokensPerMinute: spec.TokensPerMinute, RequestsPerMinute: spec.RequestsPerMinute, Source: "profile"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.memo[b]; ok && time.Since(m.at) < quotaMemo {
		return m.limits
	}
	l := governor.Limits{RequestsPerMinute: spec.RequestsPerMinute}
	if q, ok := s.cached(b); ok {
		l = governor.Limits{TokensPerMinute: q.TPM, RequestsPerMinute: q.RPM, Source: "service quotas"}
	} else if !s.asked[b] && spec.CacheDir != "" {
		if s.asked == nil {
			s.asked = map[governor.Bucket]bool{}
		}
		s.asked[b] = true // once a session: a failed lookup is not retried at every request
		go s.lookup(b)
	}
	if s.memo == nil {
		s.memo = map[governor.Bucket]memoLimits{}
	}
	s.memo[b] = memoLimits{time.Now(), l}
	return l
}

// cached is the doctor's cache entry for bucket b, if fresh.
func (s *quotaSource) cached(b governor.Bucket) (quota.Cached, bool) {
	if s.spec.CacheDir == "" {
		return quota.Cached{}, false
	}
	for _, id := range modelIDs(b) {
		if q, ok := quota.ReadCache(s.spec.CacheDir, s.spec.AWSProfile, b.Region, id, time.Now()); ok && q.TPM > 0 {
			return q, true
		}
	}
	return quota.Cached{}, false
}

// lookup asks Service Quotas for bucket b's quotas, as the doctor does, and
// caches them for the doctor and the next sessions; the next decision of
// the governor after that reads them.
func (s *quotaSource) lookup(b governor.Bucket) {
	err := s.lookupErr(b)
	if err != nil {
		// Not err's text: a failed credential chain's may quote a
		// credential_process's output, secrets included.
		s.log.Printf("no Service Quotas lookup for %s in %s: run 'claude-bedrock +doctor' to see why", b.Model, b.Region)
	}
	if s.looked != nil {
		s.looked(b, err)
	}
}

func (s *quotaSource) lookupErr(b governor.Bucket) error {
	ids := modelIDs(b)
	if len(ids) == 0 {
		return errors.New("no inference-profile ID for its kind")
	}
	m, ok := models.Lookup(ids[0])
	if !ok {
		return errors.New("the model is not in the models table, so its quota cannot be named")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := []func(*config.LoadOptions) error{config.WithRegion(b.Region), config.WithLogger(logging.Nop{}), config.WithLogConfigurationWarnings(false)}
	if s.spec.AWSProfile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.spec.AWSProfile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return err
	}
	if s.creds != nil {
		cfg.Credentials = s.creds
	}
	q := quota.Cached{AWSProfile: s.spec.AWSProfile, Region: b.Region, Model: ids[0], Fetched: time.Now().UTC()}
	if _, err := doctor.LookupQuota(ctx, cfg, serviceQuotasEndpoint(s.spec.Endpoints), m, b.Kind, &q); err != nil {
		return err
	}
	if q.TPM <= 0 {
		return fmt.Errorf("Service Quotas has no %s tokens-per-minute quota for %s", b.Kind, m.Name)
	}
	if err := quota.WriteCache(s.spec.CacheDir, q); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.memo, b) // read the new entry at the next decision
	s.mu.Unlock()
	return nil
}

// serviceQuotasEndpoint is the endpoint the AWS SDK would take from the
// environment for Service Quotas, or nil for AWS's own.
func serviceQuotasEndpoint(env map[string]string) *string {
	for _, k := range []string{"AWS_ENDPOINT_URL_SERVICE_QUOTAS", "AWS_ENDPOINT_URL"} {
		if v := env[k]; v != "" {
			return &v
		}
	}
	return nil
}

// modelIDs are the IDs Claude Code may have sent for a bucket's model: the
// doctor caches quotas under the ID it was asked about.
func modelIDs(b governor.Bucket) []string {
	switch b.Kind {
	case quota.Kind(""):
		return []string{b.Model}
	case quota.Kind("global"):
		return []string{"global." + b.Model}
	}
	if p := models.PrefixFor(b.Region); p != "" {
		return []string{p + "." + b.Model}
	}
	return nil
}

// credentialExportTimeout bounds one run of awsCredentialExport.
const credentialExportTimeout = time.Minute

// exportedCredentials runs Claude Code's awsCredentialExport command, as
// Claude Code does, and signs with what it prints: AWS CLI-style JSON,
// {"Credentials": {"AccessKeyId", "SecretAccessKey", "SessionToken",
// "Expiration"}}. The cache runs it again before the credentials expire,
// and when Bedrock refuses them (gateway.Credentials). authRefresh: Claude
// Code also runs the user's awsAuthRefresh.
func exportedCredentials(command string, authRefresh bool) *gateway.Credentials {
	load := func(context.Context) (aws.CredentialsProvider, error) { return exportProvider(command), nil }
	return gateway.NewCredentials(exportProvider(command), load, authRefresh)
}

// exportProvider is a cache over one awsCredentialExport command.
func exportProvider(command string) aws.CredentialsProvider {
	return aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		// The cache shares one refresh among all requests, with a context
		// that never ends: a command that hangs must not hold them all.
		ctx, cancel := context.WithTimeout(ctx, credentialExportTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
		cmd.Stderr = io.Discard // it may print anything; never onto claude's screen
		out, err := cmd.Output()
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("awsCredentialExport failed: %v", exitReason(err))
		}
		var v struct {
			Credentials struct {
				AccessKeyID     string `json:"AccessKeyId"`
				SecretAccessKey string
				SessionToken    string
				Expiration      time.Time
			}
		}
		if err := json.Unmarshal(out, &v); err != nil || v.Credentials.AccessKeyID == "" || v.Credentials.SecretAccessKey == "" {
			return aws.Credentials{}, errors.New(`awsCredentialExport did not print {"Credentials": {"AccessKeyId": …, "SecretAccessKey": …}}`)
		}
		c := v.Credentials
		return aws.Credentials{
			AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
			Source: "awsCredentialExport", CanExpire: !c.Expiration.IsZero(), Expires: c.Expiration,
		}, nil
	}), func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 5 * time.Minute })
}

// exitReason says how a command failed without repeating its output, which
// may hold a secret.
func exitReason(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return err.Error()
}

// usageLog appends one line per request to usage.jsonl: counts and timings,
// never content, a header value or a credential (gateway.Record holds none).
type usageLog struct {
	path string
	mu   sync.Mutex
}

// append writes r as one line with a single write to a file opened for
// appending, so that lines of several sessions never interleave.
func (u *usageLog) append(r gateway.Record) {
	line, err := json.Marshal(r)
	if err != nil {
		return // a Record always encodes
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(u.path), 0o700); err != nil {
		return // best effort: the record is a convenience, never in the way
	}
	f, err := os.OpenFile(u.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	_, _ = f.Write(append(line, '\n'))
	_ = f.Close()
}

// statusPublisher writes the session's Status snapshot for
// `claude-bedrock +statusline`: after each request and every
// gatewayspec.StatusRefresh.
type statusPublisher struct {
	path string
	gov  *governor.Governor
	mu   sync.Mutex
}

func (p *statusPublisher) run(done <-chan struct{}) {
	p.publish()
	t := time.NewTicker(gatewayspec.StatusRefresh)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			p.publish()
		}
	}
}

// publish writes the snapshot of the bucket with the most activity.
func (p *statusPublisher) publish() {
	st := p.gov.Status()
	snap := gatewayspec.Status{Time: time.Now()}
	best := -1
	for _, b := range st.Buckets {
		load := b.UsedLastMinute + b.Held + b.Waiting
		if load <= best {
			continue
		}
		best = load
		snap.Model = b.Bucket.Model
		snap.TokensPerMinute = b.Limit
		snap.LimitSource = b.Source
		snap.Used = b.UsedLastMinute + b.Held
		snap.InFlight = b.InFlight
		snap.Waiting = b.Waiting
	}
	data, err := json.Marshal(snap)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(p.path), 0o700); err != nil {
		return // best effort: the status line then shows no quota
	}
	tmp := p.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return
	}
	_ = os.Rename(tmp, p.path) // best effort, as above
}

func (p *statusPublisher) remove() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = os.Remove(p.path) // best effort: readers ignore an old snapshot
}
