// Package governor is claude-bedrock's model of a Bedrock quota and the
// admission of requests under it: which requests may go upstream now, which
// wait, and what each one cost once it ended.
//
// Bedrock meters each model per minute, per region and per kind of inference
// profile, in tokens (TPM) and requests (RPM). A request holds, from its start,
// its input plus a reservation for its max_tokens; when it ends it settles to
// input + cache writes + burndown x output (cache reads are free), counted in a
// sliding 60-second window. The model here is pure: time is passed in, nothing
// reads a clock, a file or the network, so it can be stepped in tests and
// fuzzed. The gateway (package gateway) asks it through Pacer.
//
// Model is that pure model; Governor the Pacer over it, with a clock and
// timers; DirLedger the file-backed Ledger through which the sessions of a
// user on a machine share one budget per bucket (a session killed at any
// moment drops out: the kernel releases its flock); ReadStatus what
// `claude-bedrock +status` shows of them.
package governor

import (
	"context"
	"time"
)

// Bucket names one quota. Bedrock keeps a separate per-minute quota for each
// region, base model and kind of inference profile.
type Bucket struct {
	// Region is the AWS region the request goes to, e.g. "us-west-2".
	Region string `json:"region"`
	// Model is the base model ID without its geography prefix, e.g.
	// "anthropic.claude-sonnet-4-5-20250929-v1:0".
	Model string `json:"model"`
	// Kind is the kind of inference profile as quota.Kind names it:
	// in-region, cross-region (us., eu., apac., …) or global.
	Kind string `json:"kind"`
}

// Limits are a bucket's quotas. Zero means unknown (or, for requests per
// minute, none: some models have no such quota).
type Limits struct {
	TokensPerMinute   int `json:"tokens_per_minute,omitempty"`
	RequestsPerMinute int `json:"requests_per_minute,omitempty"`
	// Source says where the limits came from: "service quotas", "profile"
	// or "" when unknown.
	Source string `json:"source,omitempty"`
}

// Request is what the gateway knows of a request before it goes upstream.
type Request struct {
	Bucket Bucket
	// Session is the claude-bedrock session the request belongs to.
	Session string
	// MaxTokens is the request body's max_tokens.
	MaxTokens int
	// Input is the input tokens estimated from the body, until the answer's
	// message_start gives the real count.
	Input int
	// Burndown is how many times the model counts each output token.
	Burndown int
	// Probe marks Claude Code's start-up probes (max_tokens 1): they go
	// through at once.
	Probe bool
}

// Usage is what a finished request used, as the answer reported it.
type Usage struct {
	Input, CacheRead, CacheWrite, Output int
}

// Pacer admits requests. Acquire blocks until the request may go upstream,
// or its bounded wait has passed (then it goes anyway and Bedrock decides),
// or ctx is done (an error: the client hung up).
type Pacer interface {
	Acquire(ctx context.Context, r Request) (Lease, error)
}

// Lease is one admitted request's hold on its bucket, until Done.
type Lease interface {
	// Waited is how long Acquire held the request in the queue.
	Waited() time.Duration
	// Started replaces the estimated input with the real count from the
	// answer's first event.
	Started(input int)
	// Throttled reports a 429 from Bedrock for this request and releases its
	// hold. It answers whether the gateway should queue the request again
	// (Acquire once more) rather than pass the 429 on to claude.
	Throttled() (retry bool)
	// Done settles the request to what it used and releases its hold.
	// status is the HTTP status claude got.
	Done(u Usage, status int)
}
