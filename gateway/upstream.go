package gateway

import (
	"context"
	"fmt"
	"net/url"
	"strings"
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
// later; the error never contains a credential.
func LoadCredentials(ctx context.Context, profile string) (aws.CredentialsProvider, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = credentialsExpiryWindow
		}),
		// The SDK's warnings would land in the middle of claude's screen.
		config.WithLogger(logging.Nop{}),
		config.WithLogConfigurationWarnings(false),
	}
	name := "the default AWS credential chain"
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
		name = fmt.Sprintf("AWS profile %q", profile)
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot load %s: %w (check it with 'claude-bedrock +doctor')", name, err)
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
	if _, err := creds.Retrieve(ctx); err != nil {
		// Not err's text: the SDK's may quote a credential_process's
		// output, secrets included (see credentialsError).
		return nil, credentialsError{from: name, err: err}
	}
	return creds, nil
}
