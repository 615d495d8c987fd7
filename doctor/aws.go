package doctor

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// awsState is the AWS configuration the network checks share, and what the
// aws check found.
type awsState struct {
	check  Check
	cfg    aws.Config
	region string
	usable bool   // credentials are worth sending
	why    string // when not usable: why the network checks are not done
	// instanceRole is set when no credentials were found in the files or the
	// environment, so only an instance or container role can supply them:
	// the identity check settles whether one does.
	instanceRole bool
	profile      string   // the AWS profile used, for fixes
	credFix      string   // the fix when the credentials are refused
	account      string   // set by the identity check
	secrets      []string // the profile chain's key values, for redaction only
}

// notUsable marks the network checks as impossible, saying why.
func (a *awsState) notUsable(why string) *awsState {
	a.usable, a.why = false, why
	return a
}

// checkAWS loads the AWS configuration the way the AWS SDK (and Claude Code's
// own SDK) would for this profile, and says where the credentials come from
// without ever printing them.
//
// Everything comes from in.Env, not the process environment: the shared
// files, profile, region, static keys and endpoint overrides are passed to the
// SDK explicitly, and the SDK's own view of the process environment is
// removed from cfg.ConfigSources. In a real run in.Env is the process
// environment, so nothing changes; in tests it is what makes the run
// hermetic, and lets AWS_ENDPOINT_URL_* in the map point at loopback fakes.
func checkAWS(ctx context.Context, in Input) *awsState {
	a := &awsState{check: Check{Name: "aws", Status: OK}, usable: true}
	c := &a.check
	configFile := in.Env["AWS_CONFIG_FILE"]
	if configFile == "" {
		configFile = filepath.Join(in.Home, ".aws", "config")
	}
	credsFile := in.Env["AWS_SHARED_CREDENTIALS_FILE"]
	if credsFile == "" {
		credsFile = filepath.Join(in.Home, ".aws", "credentials")
	}
	files := func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles = []string{configFile}
		o.CredentialsFiles = []string{credsFile}
	}

	// Which profile: the same order both AWS SDKs use. A profile named by the
	// launcher or AWS_PROFILE beats static keys in the environment.
	name, nameWhy := in.AWSProfile, "aws_profile of "+fmt.Sprintf("%q", in.Profile)
	if name == "" && in.Env["AWS_PROFILE"] != "" {
		name, nameWhy = in.Env["AWS_PROFILE"], "env AWS_PROFILE"
	}
	envKeys := in.Env["AWS_ACCESS_KEY_ID"] != "" && in.Env["AWS_SECRET_ACCESS_KEY"] != ""
	var sc *config.SharedConfig
	if name == "" && !envKeys {
		s, err := config.LoadSharedConfigProfile(ctx, "default", files)
		switch {
		case err == nil:
			name, nameWhy, sc = "default", "the default chain", &s
		case !profileMissing(err):
			c.Status, c.Summary = Fail, "cannot read the AWS configuration: "+err.Error()
			c.Fix = "repair the syntax of " + tilde(in, configFile) + " or " + tilde(in, credsFile)
			return a.notUsable("the AWS configuration cannot be read")
		}
	}
	if name != "" && sc == nil {
		s, err := config.LoadSharedConfigProfile(ctx, name, files)
		switch {
		case profileMissing(err):
			c.Status = Fail
			c.Summary = fmt.Sprintf("AWS profile %q (%s) is not in %s or %s", name, nameWhy, tilde(in, configFile), tilde(in, credsFile))
			c.Fix = fmt.Sprintf("aws configure sso --profile %s", shellQuote(name))
			return a.notUsable(fmt.Sprintf("AWS profile %q does not exist", name))
		case err != nil:
			c.Status, c.Summary = Fail, fmt.Sprintf("cannot read AWS profile %q: %v", name, err)
			c.Fix = "repair the syntax of " + tilde(in, configFile) + " or " + tilde(in, credsFile)
			return a.notUsable("the AWS configuration cannot be read")
		}
		sc = &s
	}
	a.profile = name

	// The region: the launcher sets AWS_REGION from the profile, which beats
	// the AWS profile's own region.
	region, regionWhy := in.Region, "from the claude-bedrock profile"
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" && in.Env[k] != "" {
			region, regionWhy = in.Env[k], "from env "+k
		}
	}
	if region == "" && sc != nil && sc.Region != "" {
		region, regionWhy = sc.Region, fmt.Sprintf("from AWS profile %q", name)
	}
	a.region = region

	// Where the credentials come from.
	var source string
	var ssoSC *config.SharedConfig
	switch {
	case sc != nil:
		for p := sc; p != nil; p = p.Source {
			for _, v := range []string{p.Credentials.AccessKeyID, p.Credentials.SecretAccessKey, p.Credentials.SessionToken} {
				if len(v) >= 8 {
					a.secrets = append(a.secrets, v)
				}
			}
		}
		source, ssoSC = describeCreds(in, sc)
		if source != "" {
			source = fmt.Sprintf("AWS profile %q (%s): %s", name, nameWhy, source)
		}
		if envKeys && source != "" {
			c.Details = append(c.Details, "AWS_ACCESS_KEY_ID is set too: the AWS profile wins over it")
		}
	case envKeys:
		source = "static keys from the environment (AWS_ACCESS_KEY_ID)"
		if in.Env["AWS_SESSION_TOKEN"] != "" {
			source = "temporary keys from the environment (AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN)"
		}
	case in.Env["AWS_WEB_IDENTITY_TOKEN_FILE"] != "":
		source = "web identity token from the environment (AWS_WEB_IDENTITY_TOKEN_FILE)"
	case in.Env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] != "" || in.Env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] != "":
		source = "container credentials (AWS_CONTAINER_CREDENTIALS_*)"
	}
	imdsOff := strings.EqualFold(in.Env["AWS_EC2_METADATA_DISABLED"], "true")
	fixCreds := fmt.Sprintf("aws configure sso --profile bedrock, then set aws_profile = \"bedrock\" in profile %q", in.Profile)
	if name != "" {
		fixCreds = "aws configure sso --profile " + shellQuote(name)
	}
	switch {
	case source != "":
	case imdsOff:
		c.Status, c.Summary, c.Fix = Fail, "no AWS credentials found", fixCreds
		if name != "" {
			c.Summary = fmt.Sprintf("no AWS credentials: AWS profile %q (%s) has none", name, nameWhy)
		}
		c.Details = append(c.Details, "instance metadata is disabled (AWS_EC2_METADATA_DISABLED=true)")
		a.notUsable("no AWS credentials")
	default:
		c.Status, c.Summary, c.Fix = Fail, "no AWS credentials in the AWS files or the environment", fixCreds
		c.Details = append(c.Details, "only an EC2 instance role could still supply them: the identity check tells")
		a.instanceRole = true
	}

	a.credFix = "aws configure"
	if name != "" {
		a.credFix = "aws configure --profile " + shellQuote(name)
	}
	if source == "" {
		a.credFix = fixCreds
	}
	if ssoSC != nil {
		a.credFix = "aws sso login --profile " + shellQuote(name)
		a.checkSSOCache(in, ssoSC)
	}

	if region == "" {
		c.Status = Fail
		c.Details = append(c.Details, "no region set")
		c.Fix = joinFix(c.Fix, fmt.Sprintf("set region = \"us-west-2\" (or yours) in profile %q", in.Profile))
		return a.notUsable("no region")
	}
	if c.Summary == "" {
		c.Summary = source
	}
	c.Details = append([]string{fmt.Sprintf("region %s (%s)", region, regionWhy)}, c.Details...)
	if sc != nil && sc.Region != "" && sc.Region != region {
		c.Details = append(c.Details, fmt.Sprintf("AWS profile %q says region %s: the launcher's AWS_REGION wins", name, sc.Region))
	}
	if !a.usable {
		return a
	}

	opts := []func(*config.LoadOptions) error{
		config.WithSharedConfigFiles([]string{configFile}),
		config.WithSharedCredentialsFiles([]string{credsFile}),
		config.WithRegion(region),
		config.WithRetryMaxAttempts(2),
		// The SDK's own warnings (such as falling back to IMDSv1) would land
		// on stderr in the middle of the report; what matters is in the checks.
		config.WithLogger(logging.Nop{}),
		config.WithLogConfigurationWarnings(false),
	}
	switch {
	case sc != nil:
		opts = append(opts, config.WithSharedConfigProfile(name))
	case envKeys:
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			in.Env["AWS_ACCESS_KEY_ID"], in.Env["AWS_SECRET_ACCESS_KEY"], in.Env["AWS_SESSION_TOKEN"])))
	}
	if imdsOff {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if e := in.Env["AWS_EC2_METADATA_SERVICE_ENDPOINT"]; e != "" {
		opts = append(opts, config.WithEC2IMDSEndpoint(e))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		c.Status = Fail
		c.Details = append(c.Details, "the AWS SDK cannot load this configuration: "+err.Error())
		c.Fix = joinFix(c.Fix, "repair "+tilde(in, configFile))
		return a.notUsable("the AWS SDK cannot load the configuration")
	}
	// Drop the SDK's snapshot of the process environment (see the doc
	// comment); endpoint overrides are applied per client from in.Env.
	srcs := cfg.ConfigSources[:0:0]
	for _, s := range cfg.ConfigSources {
		switch s.(type) {
		case config.EnvConfig, *config.EnvConfig:
			continue
		}
		srcs = append(srcs, s)
	}
	cfg.ConfigSources = srcs
	cfg.BaseEndpoint = nil
	if !ignoreEndpoints(in) {
		if v := in.Env["AWS_ENDPOINT_URL"]; v != "" {
			cfg.BaseEndpoint = aws.String(v)
		} else if sc != nil && sc.BaseEndpoint != "" {
			cfg.BaseEndpoint = aws.String(sc.BaseEndpoint)
		}
	}
	if ssoSC == sc && sc != nil {
		cfg.Credentials = ssoProvider(in, cfg, sc)
	}
	a.cfg = cfg
	return a
}

// ssoProvider builds the SSO credential provider the SDK would build for a
// profile that uses SSO itself, but with the token cache under in.Home: the
// SDK finds its cache through the process's home directory, which tests must
// not depend on. (A role assumed from an SSO profile keeps the SDK's own
// chain; in a real run both homes are the same.)
func ssoProvider(in Input, cfg aws.Config, sc *config.SharedConfig) aws.CredentialsProvider {
	c := cfg.Copy()
	c.Region = sc.SSORegion
	key := sc.SSOStartURL
	if sc.SSOSession != nil {
		c.Region, key = sc.SSOSession.SSORegion, sc.SSOSession.Name
	}
	cache := ssoCachePath(in, key)
	opts := []func(*ssocreds.Options){func(o *ssocreds.Options) { o.CachedTokenFilepath = cache }}
	if sc.SSOSession != nil {
		oidc := ssooidc.NewFromConfig(c, func(o *ssooidc.Options) {
			if e := endpointFor(in, "SSO_OIDC"); e != nil {
				o.BaseEndpoint = e
			}
		})
		tokens := ssocreds.NewSSOTokenProvider(oidc, cache)
		opts = append(opts, func(o *ssocreds.Options) { o.SSOTokenProvider = tokens })
	}
	portal := sso.NewFromConfig(c, func(o *sso.Options) {
		if e := endpointFor(in, "SSO"); e != nil {
			o.BaseEndpoint = e
		}
	})
	return aws.NewCredentialsCache(ssocreds.New(portal, sc.SSOAccountID, sc.SSORoleName, sc.SSOStartURL, opts...))
}

// ssoCachePath is where the AWS CLI and SDKs cache the SSO token for a
// session name (or, in the legacy configuration, a start URL).
func ssoCachePath(in Input, key string) string {
	sum := sha1.Sum([]byte(key))
	return filepath.Join(in.Home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
}

// profileMissing reports whether err says a shared-config profile does not exist.
func profileMissing(err error) bool {
	var v config.SharedConfigProfileNotExistError
	var p *config.SharedConfigProfileNotExistError
	return err != nil && (errors.As(err, &v) || errors.As(err, &p))
}

// ignoreEndpoints reports whether the user switched endpoint overrides off.
func ignoreEndpoints(in Input) bool {
	return strings.EqualFold(in.Env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"], "true")
}

// endpointFor returns the endpoint override for a service from in.Env, as
// the AWS SDKs read it: AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL.
// The service name is the SDK service ID in upper case with underscores:
// STS, BEDROCK, SERVICE_QUOTAS.
func endpointFor(in Input, service string) *string {
	if ignoreEndpoints(in) {
		return nil
	}
	if v := in.Env["AWS_ENDPOINT_URL_"+service]; v != "" {
		return aws.String(v)
	}
	if v := in.Env["AWS_ENDPOINT_URL"]; v != "" {
		return aws.String(v)
	}
	return nil
}

// describeCreds says where a shared-config profile's credentials come from,
// never what they are, and returns the profile in the chain that uses SSO, if
// any. It returns "" when the profile has no credentials of its own.
func describeCreds(in Input, sc *config.SharedConfig) (string, *config.SharedConfig) {
	switch {
	case sc.Source != nil:
		inner, sso := describeCreds(in, sc.Source)
		if inner == "" {
			inner = "no credentials"
		}
		return fmt.Sprintf("role %s assumed with profile %q (%s)", sc.RoleARN, sc.SourceProfileName, inner), sso
	case sc.Credentials.HasKeys():
		file := strings.TrimPrefix(sc.Credentials.Source, "SharedConfigCredentials: ")
		d := "static keys from " + tilde(in, file)
		if sc.Credentials.SessionToken != "" {
			d = "temporary keys from " + tilde(in, file)
		}
		return d, nil
	case sc.CredentialSource != "":
		return fmt.Sprintf("role %s with credential_source %s", sc.RoleARN, sc.CredentialSource), nil
	case sc.WebIdentityTokenFile != "":
		return fmt.Sprintf("role %s with web identity token %s", sc.RoleARN, tilde(in, sc.WebIdentityTokenFile)), nil
	case sc.SSOSession != nil:
		return fmt.Sprintf("SSO session %q (%s)", sc.SSOSession.Name, sc.SSOSession.SSOStartURL), sc
	case sc.SSOStartURL != "":
		return fmt.Sprintf("SSO (%s, legacy configuration)", sc.SSOStartURL), sc
	case sc.LoginSession != "":
		return "aws login session", nil
	case sc.CredentialProcess != "":
		// The command line is not shown: some carry tokens in their arguments.
		return "credential_process", nil
	}
	return "", nil
}

// ssoToken is what the doctor reads of the SDK's cached SSO token.
type ssoToken struct {
	AccessToken           string `json:"accessToken"`
	ExpiresAt             string `json:"expiresAt"`
	RefreshToken          string `json:"refreshToken"`
	ClientSecret          string `json:"clientSecret"`
	RegistrationExpiresAt string `json:"registrationExpiresAt"`
}

// checkSSOCache finds an expired SSO session from the token the AWS CLI and
// SDKs cache in ~/.aws/sso/cache/<sha1 of session name or start URL>.json,
// without a network call.
func (a *awsState) checkSSOCache(in Input, sc *config.SharedConfig) {
	c := &a.check
	key := sc.SSOStartURL
	if sc.SSOSession != nil {
		key = sc.SSOSession.Name
	}
	path := ssoCachePath(in, key)
	fix := "aws sso login --profile " + shellQuote(a.profile)
	data, err := os.ReadFile(path)
	if err != nil {
		c.Status, c.Fix = Fail, fix
		c.Details = append(c.Details, fmt.Sprintf("no SSO login cached (%s): %s", tilde(in, path), errReason(err)))
		a.notUsable("not logged in to SSO")
		return
	}
	var t ssoToken
	if err := json.Unmarshal(data, &t); err != nil {
		c.Status, c.Fix = Fail, fix
		c.Details = append(c.Details, fmt.Sprintf("the cached SSO token %s is damaged: %v", tilde(in, path), err))
		a.notUsable("the cached SSO token is damaged")
		return
	}
	exp, err := time.Parse(time.RFC3339, t.ExpiresAt)
	if err != nil || t.AccessToken == "" {
		c.Status, c.Fix = Fail, fix
		c.Details = append(c.Details, fmt.Sprintf("the cached SSO token %s has no valid expiresAt", tilde(in, path)))
		a.notUsable("the cached SSO token is damaged")
		return
	}
	now := in.Now()
	if exp.After(now) {
		c.Details = append(c.Details, "SSO session valid until "+stamp(exp))
		return
	}
	regExp, regErr := time.Parse(time.RFC3339, t.RegistrationExpiresAt)
	if t.RefreshToken != "" && t.ClientSecret != "" && regErr == nil && regExp.After(now) {
		c.Status = worse(c.Status, Warn)
		c.Details = append(c.Details, fmt.Sprintf("SSO access token expired at %s; the SDK will try to refresh it", stamp(exp)))
		c.Fix = joinFix(c.Fix, fix)
		return
	}
	c.Status, c.Fix = Fail, joinFix(c.Fix, fix)
	c.Details = append(c.Details, fmt.Sprintf("SSO session expired at %s", stamp(exp)))
	a.notUsable("the SSO session has expired")
}

// errReason is the part of a file error worth showing: "no such file or directory".
func errReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// stamp formats a time for the report, in UTC so it reads the same anywhere.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// joinFix adds a fix to those already there.
func joinFix(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// callError turns a failed AWS call into a status, a reason and whether the
// endpoint was out of reach. An answer from AWS (an API error) is a failure.
// An endpoint that cannot be reached or does not answer in time is a
// failure too, not a check left undone: claude, on the same machine with the
// same settings, could not reach Bedrock either. Unusable credentials are a
// failure of the check that owns them (credOwner: identity) and make the
// others unchecked, so one problem is reported once.
func callError(ctx context.Context, in Input, service string, err error, credOwner bool) (st Status, why string, unreachable bool) {
	var ae smithy.APIError
	msg := err.Error()
	switch {
	case errors.As(err, &ae):
		return Fail, fmt.Sprintf("%s answered %s: %s", service, ae.ErrorCode(), ae.ErrorMessage()), false
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return Fail, fmt.Sprintf("%s did not answer within %s", service, in.Timeout), true
	case strings.Contains(msg, "get identity: "):
		// The signer could not get credentials: the SDK wraps that as "get identity: ...".
		if !credOwner {
			return Unchecked, "no usable credentials (see identity)", false
		}
		return Fail, "no usable credentials: " + after(msg, "get identity: ", "get credentials: "), false
	}
	return Fail, fmt.Sprintf("could not reach %s: %s", service, urlRE.ReplaceAllString(after(msg, "request send failed, "), "")), true
}

// reachFix says what to look at when the endpoint of service (as the SDKs
// name it in AWS_ENDPOINT_URL_<SERVICE>) cannot be reached from here: the
// network, a proxy, an endpoint override, the region. A proxy is named by
// its host only: its URL may carry a password.
func reachFix(in Input, service, host, region string) string {
	var fixes []string
	url := fmt.Sprintf("https://%s.%s.amazonaws.com", host, region)
	if e := endpointFor(in, service); e != nil {
		url = *e
		name := "AWS_ENDPOINT_URL_" + service
		if in.Env[name] == "" {
			name = "AWS_ENDPOINT_URL"
		}
		fixes = append(fixes, fmt.Sprintf("point %s=%s at a reachable endpoint, or unset it", name, *e))
	}
	fixes = append(fixes, fmt.Sprintf("check the network from here: curl -sI %s", url))
	proxy := ""
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if v := in.Env[k]; v != "" && proxy == "" {
			proxy = k + " (" + proxyHost(v) + ")"
		}
	}
	if proxy != "" {
		fixes = append(fixes, "check the proxy in "+proxy+" and NO_PROXY")
	} else {
		fixes = append(fixes, "behind a proxy, set HTTPS_PROXY")
	}
	return strings.Join(append(fixes, fmt.Sprintf("check the region %s: Bedrock must be offered there", region)), "; ")
}

// proxyHost is the host of a proxy URL, without any user or password in it.
func proxyHost(v string) string {
	u, err := neturl.Parse(v)
	if err != nil || u.Host == "" {
		if i := strings.LastIndex(v, "@"); i >= 0 {
			return v[i+1:]
		}
		return v
	}
	return u.Host
}

// urlRE matches the method and URL net/http puts in front of a transport
// error; the reason after it is what the user needs.
var urlRE = regexp.MustCompile(`^[A-Za-z]+ "[^"]*": `)

// after keeps what follows the last of the markers in an SDK error, the part
// that says what went wrong; the whole message when none is there.
func after(msg string, markers ...string) string {
	for i := len(markers) - 1; i >= 0; i-- {
		if j := strings.LastIndex(msg, markers[i]); j >= 0 {
			return msg[j+len(markers[i]):]
		}
	}
	return msg
}

// identity asks STS who the credentials belong to.
func (a *awsState) identity(ctx context.Context, in Input) Check {
	c := Check{Name: "identity"}
	if !a.usable {
		c.Status, c.Summary = Unchecked, "not checked: "+a.why
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	client := sts.NewFromConfig(a.cfg, func(o *sts.Options) {
		if e := endpointFor(in, "STS"); e != nil {
			o.BaseEndpoint = e
		}
	})
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		var unreachable bool
		c.Status, c.Summary, unreachable = callError(ctx, in, "STS", err, true)
		switch {
		case unreachable:
			c.Fix = reachFix(in, "STS", "sts", a.region)
		case c.Status == Fail:
			c.Fix, c.reached = a.credFix, !strings.HasPrefix(c.Summary, "no usable credentials")
		}
		return c
	}
	c.reached = true
	a.account = aws.ToString(out.Account)
	c.Status = OK
	c.Summary = fmt.Sprintf("account %s, %s", a.account, aws.ToString(out.Arn))
	return c
}
