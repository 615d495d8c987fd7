// Package gatewayspec is the contract between the launcher (claude-bedrock)
// and the gateway process it starts for a session (claude-bedrock-doctor
// +gateway): what the gateway is told, on which descriptors, and the status
// snapshot it publishes for the status line.
//
// It depends on the standard library only, so that the launcher, which must
// never link the AWS SDK, and the AWS-linked gateway can both import it.
//
// # The process protocol
//
// The launcher binds a listening TCP socket on 127.0.0.1:0 itself (so the
// port is known at once and claude can be started before the gateway) and
// starts `claude-bedrock-doctor +gateway` with:
//
//   - stdin (fd 0): a pipe carrying one Spec as a JSON object, then EOF.
//     Read it with Read. The Spec holds the session's token: it is never on a
//     command line, in a file or in the gateway's environment.
//   - stdout and stderr (fd 1, 2): a pipe the launcher reads while claude
//     runs and never shows then; it keeps the first line and prints it after
//     claude exits if the gateway failed. Write nothing there but errors.
//   - ListenerFD (fd 3): the listening socket, already bound and listening.
//     Serve on it (net.FileListener(os.NewFile(ListenerFD, …))). Connections
//     that arrive before the gateway accepts wait in the backlog.
//   - LifelineFD (fd 4): the read end of a pipe whose write end only the
//     launcher holds. It never carries data: EOF (or an error) on it means
//     the launcher is gone, and the gateway must then exit. On Linux the
//     launcher also sets the parent-death signal to SIGTERM.
//
// The gateway runs in a process group of its own (terminal signals never
// reach it) with the launcher's environment less AWS_BEARER_TOKEN_BEDROCK,
// ANTHROPIC_BEDROCK_BASE_URL and CLAUDE_CODE_SKIP_BEDROCK_AUTH, whose user
// values are in the Spec (Upstream). It ends on SIGTERM or on EOF on
// LifelineFD: when claude has exited the launcher does both (SIGTERM to the
// gateway's process group, and it closes the lifeline's write end), waits a
// bounded time, then sends SIGKILL. If it exits while claude runs, the
// launcher starts it again on the same socket with the same Spec.
//
// The first start comes a tenth of a second after claude's, so that a
// claude that ends at once never pays for a gateway; claude's first request
// comes about a second after its start and waits in the backlog if need
// be. claude's subcommands (mcp list, --version, …) start no session and
// get no gateway.
package gatewayspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The descriptors the gateway process inherits beyond stdin, stdout, stderr.
const (
	// ListenerFD is the listening TCP socket on 127.0.0.1.
	ListenerFD = 3
	// LifelineFD is a pipe's read end: EOF on it means the launcher is gone.
	LifelineFD = 4
)

// Version is the version of the Spec format. A gateway refuses a Spec of
// another version rather than guess.
const Version = 1

// MaxSize bounds a Spec's JSON: it fits in a pipe's buffer, so the launcher
// can write it before the gateway reads.
const MaxSize = 32 << 10

// Spec is everything the gateway of one session is told.
type Spec struct {
	// Version is the format's version: Version.
	Version int `json:"version"`
	// Token is the session's bearer token: claude sends
	// "Authorization: Bearer <Token>" with every request (it has it in
	// AWS_BEARER_TOKEN_BEDROCK). At least 128 random bits; compare it in
	// constant time; refuse (401, nothing upstream) anything else.
	Token string `json:"token"`
	// SessionID names the session (not secret): the status snapshot's file
	// name and the session field of usage records.
	SessionID string `json:"session_id"`
	// Profile is the claude-bedrock profile's name.
	Profile string `json:"profile"`
	// Region is the profile's AWS region, where requests go.
	Region string `json:"region"`
	// Model is the profile's model: a Claude Code alias or an inference-profile ID.
	Model string `json:"model"`
	// MaxOutputTokens is the profile's cap when claude started. A relaunch
	// at another cap keeps the same gateway: take max_tokens from each body.
	MaxOutputTokens int `json:"max_output_tokens"`
	// AWSProfile is the profile's aws_profile ("": the environment's
	// AWS_PROFILE, or the SDK's default).
	AWSProfile string `json:"aws_profile,omitempty"`
	// TokensPerMinute and RequestsPerMinute are the profile's own limits,
	// 0 when it sets none (then Service Quotas, or unknown).
	TokensPerMinute   int `json:"tokens_per_minute,omitempty"`
	RequestsPerMinute int `json:"requests_per_minute,omitempty"`
	// Upstream is what claude would have used without the governor.
	Upstream Upstream `json:"upstream"`
	// Endpoints are the AWS_ENDPOINT_URL* variables of the launcher's
	// environment, by name (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_BEDROCK,
	// AWS_ENDPOINT_URL_BEDROCK_RUNTIME, …): resolve upstream endpoints as the
	// SDK does with them.
	Endpoints map[string]string `json:"endpoints,omitempty"`
	// AWSCredentialExport is Claude Code's awsCredentialExport setting from
	// the user's settings files: a shell command that prints credentials as
	// JSON. When set, sign with what it prints, never other credentials.
	AWSCredentialExport string `json:"aws_credential_export,omitempty"`
	// AWSAuthRefresh is set when the user's settings files give Claude Code
	// an awsAuthRefresh command: claude runs it at the start of the session
	// when the credentials fail, so wait for what it writes.
	AWSAuthRefresh bool `json:"aws_auth_refresh,omitempty"`
	// StateDir holds usage.jsonl ($XDG_STATE_HOME/claude-bedrock).
	StateDir string `json:"state_dir"`
	// CacheDir holds the doctor's Service Quotas cache ($XDG_CACHE_HOME/claude-bedrock).
	CacheDir string `json:"cache_dir"`
	// RuntimeDir holds the status snapshots and the cross-session ledger
	// (the launcher's RuntimeDir(…)): private to the user, gone at logout.
	RuntimeDir string `json:"runtime_dir"`
}

// Upstream is the user's own Bedrock settings, which claude would have used
// without the governor and which the gateway uses upstream instead.
type Upstream struct {
	// BearerToken is the user's AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key):
	// when set, send "Authorization: Bearer <it>" upstream instead of SigV4.
	BearerToken string `json:"bearer_token,omitempty"`
	// BaseURL is the user's ANTHROPIC_BEDROCK_BASE_URL (a corporate
	// gateway): when set, it is the upstream for every request.
	BaseURL string `json:"base_url,omitempty"`
	// SkipAuth is the user's CLAUDE_CODE_SKIP_BEDROCK_AUTH, as they set it
	// ("1", "true", …): when truthy, send nothing of AWS upstream (their
	// base URL authenticates otherwise).
	SkipAuth string `json:"skip_auth,omitempty"`
}

// Check reports what makes s unusable, or nil.
func (s *Spec) Check() error {
	switch {
	case s.Version != Version:
		return fmt.Errorf("gateway spec version %d, want %d: the launcher and claude-bedrock-doctor are from different builds; run ./install.sh again", s.Version, Version)
	case len(s.Token) < 22: // 128 bits in base64
		return errors.New("gateway spec: token shorter than 128 bits")
	case s.SessionID == "" || filepath.Base(s.SessionID) != s.SessionID || s.SessionID[0] == '.':
		return fmt.Errorf("gateway spec: session id %q is not a plain name", s.SessionID)
	case s.Region == "":
		return errors.New("gateway spec: no region")
	}
	return nil
}

// Write writes s to w as one JSON object. It refuses a Spec larger than
// MaxSize or one that fails Check.
func Write(w io.Writer, s *Spec) error {
	if err := s.Check(); err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if len(b) > MaxSize {
		return fmt.Errorf("gateway spec: %d bytes, more than %d", len(b), MaxSize)
	}
	_, err = w.Write(b)
	return err
}

// Read reads one Spec from r (the gateway's stdin), up to MaxSize bytes,
// unknown fields refused, and checks it.
func Read(r io.Reader) (*Spec, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the gateway spec: %w", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("gateway spec: more than %d bytes", MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("gateway spec: %w", err)
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// RuntimeDir is claude-bedrock's one folder for files that live as long as
// a session (merged settings files, the ledger, status snapshots), given
// base, the user's runtime directory as github.com/adrg/xdg finds it
// ($XDG_RUNTIME_DIR, else /run/user/<uid> on Linux; "" where there is none):
// base/claude-bedrock when base is a folder this user owns and may write
// to, else claude-bedrock-<uid> in the temp folder (base is stale after su,
// never made, or gone). Every reader and writer takes the folder from here,
// so they agree. Create it with PrepareDir before writing there.
func RuntimeDir(base string) string {
	if filepath.IsAbs(base) && ownWritableDir(base) {
		return filepath.Join(base, "claude-bedrock")
	}
	return filepath.Join(os.TempDir(), "claude-bedrock-"+strconv.Itoa(os.Getuid()))
}

// ownWritableDir reports whether dir is a folder of this user's that they
// may write to.
func ownWritableDir(dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o200 == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// LedgerDir is where, in runtimeDir, the user's session gateways keep the
// ledger through which they share one budget per quota (package governor),
// and which `claude-bedrock +status` reads.
func LedgerDir(runtimeDir string) string {
	return filepath.Join(runtimeDir, "ledger")
}

// PrepareDir makes dir a folder only the user can open, or says why it
// cannot be one. Its parent must exist: a stale $XDG_RUNTIME_DIR (gone, or
// another user's after su) is not made again. In a shared temp folder
// another user may have made dir first, or put a link there: it must be a
// real folder the user owns; one the user owns with looser permissions is
// made private. The launcher keeps merged settings files there, the gateway
// its ledger and status snapshots.
func PrepareDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir() || !ok || int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s is not a folder of this user's: remove it", dir)
	case fi.Mode().Perm() != 0o700:
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// Status is the snapshot of one session's quota that the gateway publishes
// at StatusPath for `claude-bedrock +statusline`. The gateway writes it
// atomically (a temporary file renamed over it) whenever a request is
// admitted, queued or ends, and at least every StatusRefresh while it runs;
// it removes it when it ends. A reader treats a snapshot older than
// StatusMaxAge as absent.
type Status struct {
	// Time is when it was written.
	Time time.Time `json:"time"`
	// Model is the bucket's model as the gateway names it.
	Model string `json:"model,omitempty"`
	// TokensPerMinute is the bucket's effective limit now (after learning),
	// 0 when unknown; LimitSource says where it came from ("service quotas",
	// "profile", "learned").
	TokensPerMinute int    `json:"tokens_per_minute"`
	LimitSource     string `json:"limit_source,omitempty"`
	// Used is what the last 60 seconds settled plus what is held in flight,
	// in tokens, for the whole bucket (all of the user's sessions).
	Used int `json:"used"`
	// InFlight and Waiting count requests upstream and queued, bucket-wide.
	InFlight int `json:"in_flight"`
	Waiting  int `json:"waiting"`
}

// StatusRefresh is how often, at least, the gateway rewrites its snapshot.
const StatusRefresh = 5 * time.Second

// StatusMaxAge is how old a snapshot may be before readers ignore it.
const StatusMaxAge = 30 * time.Second

// StatusPath is where the gateway of session publishes its Status.
func StatusPath(runtimeDir, session string) string {
	return filepath.Join(runtimeDir, "sessions", session+".json")
}

// TakeFiles returns the gateway's inherited listening socket (ListenerFD)
// and lifeline (LifelineFD), marked close-on-exec first so that processes
// the gateway starts (credential_process, awsCredentialExport) do not hold
// the socket or the pipe. Make the listener with net.FileListener and close
// this file; watch the lifeline with WatchLifeline.
func TakeFiles() (listener, lifeline *os.File) {
	syscall.CloseOnExec(ListenerFD)
	syscall.CloseOnExec(LifelineFD)
	return os.NewFile(ListenerFD, "gateway-listener"), os.NewFile(LifelineFD, "gateway-lifeline")
}

// WatchLifeline calls gone, once, when the lifeline reaches EOF or fails:
// the launcher that started the gateway is gone.
func WatchLifeline(lifeline *os.File, gone func()) {
	go func() {
		var b [1]byte
		for {
			if _, err := lifeline.Read(b[:]); err != nil {
				gone()
				return
			}
		}
	}()
}
