// Package gateway is claude-bedrock's loopback Bedrock gateway: claude talks
// to it instead of to Bedrock, and it forwards every request, paced under
// the quota, authenticated with the user's own credentials, streaming the
// answer back as it arrives and counting the tokens on the way.
//
// # What claude sees
//
// The launcher gives claude ANTHROPIC_BEDROCK_BASE_URL=http://127.0.0.1:PORT
// and AWS_BEARER_TOKEN_BEDROCK=<a random token for this session>, and removes
// CLAUDE_CODE_SKIP_BEDROCK_AUTH from claude's environment (with it, Claude
// Code sends its control-plane request with no token). Every request then
// carries "Authorization: Bearer <token>"; the gateway refuses any other
// with 401 and sends nothing upstream. POST /model/{id}/invoke and
// /invoke-with-response-stream go to the Bedrock runtime, other paths such
// as GET /inference-profiles to the control plane; HEAD / is answered here.
// Statuses, the headers that matter and error bodies pass byte for byte:
// Claude Code's retry logic reads their wording.
//
// # Upstream
//
// Requests go where claude would have sent them without the gateway
// (ResolveUpstream), authenticated the way it would have (AuthFromEnv):
// SigV4 with the AWS SDK's credential chain for the profile
// (LoadCredentials), the user's own Bedrock API key, or nothing for the
// user's own gateway with CLAUDE_CODE_SKIP_BEDROCK_AUTH.
//
// # How the process runs
//
// The gateway links the AWS SDK, which the launcher must not (its start-up
// time is the user's), so it runs in the AWS-linked binary, as a process the
// launcher starts beside claude, not before it:
//   - the launcher binds the listener itself (127.0.0.1, a free port), so it
//     knows the port to give claude at once, and hands the open socket to
//     the gateway process as an inherited file descriptor
//     (exec.Cmd.ExtraFiles; net.FileListener on the other side; Serve refuses
//     one that is not loopback);
//   - the launcher makes the session token and writes it to a pipe that is
//     another inherited descriptor; the gateway reads it with ReadToken.
//     The token is never on a command line (other users can read those),
//     never in a file and never in a log line or an error message;
//   - the gateway reads the user's environment as it was before the launcher
//     changed claude's (the user's own AWS_BEARER_TOKEN_BEDROCK,
//     ANTHROPIC_BEDROCK_BASE_URL and CLAUDE_CODE_SKIP_BEDROCK_AUTH decide the
//     upstream), and runs until the launcher closes its end of a pipe or
//     signals it; then Serve lets requests in flight finish for a grace.
//
// The gateway process should run with a soft memory limit (GOMEMLIMIT, or
// debug.SetMemoryLimit, of 20 MiB): with Go's default collector alone the
// heap may grow to twice what is live before it is collected. What is live
// is a few tens of KiB per stream in flight (a 4 KiB copy buffer while the
// answer trickles, a pooled 32 KiB one only while it pours, the
// connections' buffers on both sides, goroutine stacks) and, while a
// request waits for its answer's headers, its whole body: 200 turns of
// 85 KB that arrive at the same moment hold 17 MB of bodies at once.
// Measured figures are in docs/benchmarks.md, "Gateway".
//
// Since the launcher keeps the listening socket open, a gateway process that
// dies can be started again on the same port: connections made meanwhile
// wait in the socket's backlog, and requests that were in flight fail as
// network errors, which Claude Code retries.
//
// # Pacing and metering
//
// Each model invocation asks the governor.Pacer for admission before it goes
// upstream, holding its estimated input and its max_tokens reservation; the
// real input count from the answer's message_start replaces the estimate,
// and the request settles to what the answer used when it ends. A 429 the
// Pacer did not expect is absorbed: the request, already read whole, is
// queued again at once (at the head of its queue) and sent after a short
// jittered pause once admitted, until the Pacer says to pass Bedrock's own
// 429 on to claude. Token counts are read from the bytes as they pass (the
// event-stream framing decoded incrementally; the JSON usage and
// X-Amzn-Bedrock-*-Token-Count headers of /invoke); a malformed stream only
// stops the counting, never the answer. What the answer did not say is
// settled as well as it is known: an answer cut short counts the output of
// the deltas it streamed; an exception message inside a 200 stream
// (throttlingException, modelStreamErrorException, …) reaches claude
// untouched and settles with the status Bedrock gives that exception, so a
// throttlingException teaches the Pacer as a 429 does; a request claude
// hung up on after it reached Bedrock, before any answer, settles to its
// hold.
package gateway
