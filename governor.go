package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/internal/claudesettings"
	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// The environment variables through which claude reaches Bedrock, which
// the governor takes over: claude talks to the session's gateway with the
// session's token, and the gateway uses the user's own values upstream.
const (
	keyBaseURL = "ANTHROPIC_BEDROCK_BASE_URL"
	keyBearer  = "AWS_BEARER_TOKEN_BEDROCK"
	keySkip    = "CLAUDE_CODE_SKIP_BEDROCK_AUTH"
)

// Variables the launcher gives a governed claude besides those: neither is
// a secret.
const (
	// envSession names the session, so that `claude-bedrock +statusline`
	// (which claude runs) finds the gateway's status snapshot.
	envSession = "CLAUDE_BEDROCK_SESSION"
	// envGateway is the session gateway's URL, so that a launch from inside
	// the session (claude's process wrapper, a nested claude-bedrock in a
	// tool) knows its base URL and token are the gateway's, not the user's.
	envGateway = "CLAUDE_BEDROCK_GATEWAY"
	// envOwn prefixes the user's own values of the variables the governor
	// takes over, kept in a governed claude's environment (where they were
	// before) for such a launch from inside the session: it restores them,
	// so it never depends on this session's gateway, which ends with it
	// (Claude Code's background service outlives the session that started
	// it).
	envOwn = "CLAUDE_BEDROCK_OWN_"
)

// takenOver are the variables the governor takes over in claude's
// environment.
var takenOver = []string{keyBaseURL, keyBearer, keySkip}

// restoreOwnEnv undoes, for a launch from inside a governed session, what
// that session's governor did to the environment: the user's own values of
// the variables it took over come back, and its own variables go.
func (a *app) restoreOwnEnv() {
	url := a.env[envGateway]
	if url == "" || a.env[keyBaseURL] != url {
		return
	}
	a.log.Printf("inside the governed session %s: its gateway's variables replaced by your own", a.env[envSession])
	own := map[string]string{}
	for _, k := range takenOver {
		if v, ok := a.env[envOwn+k]; ok {
			own[k] = v
		}
	}
	var out []string
	for _, kv := range a.environ {
		k, _, _ := strings.Cut(kv, "=")
		if k == envGateway || k == envSession || strings.HasPrefix(k, envOwn) || slices.Contains(takenOver, k) {
			delete(a.env, k)
			continue
		}
		out = append(out, kv)
	}
	for _, k := range takenOver {
		if v, ok := own[k]; ok {
			out = append(out, k+"="+v)
			a.env[k] = v
		}
	}
	a.environ = out
}

// governor is the launcher's side of one governed session: what claude is
// told, and the gateway process.
type governor struct {
	url        string   // http://127.0.0.1:<port>
	token      string   // the session's bearer token, in claude's environment only
	own        []string // the user's own values of the variables taken over, as envOwn entries
	session    string
	statusLine string // the --settings statusLine command, "" when the user has their own
	gw         *gateway
}

// governorFor decides whether the session of profile p with claude
// arguments args (whose --settings values are users) goes through the
// governor, and prepares it (the listening socket, the token; the gateway
// process starts with start). It returns nil when the governor stays off;
// when that is not the user's own choice, it says why in one line on
// stderr. claudePath is the process-wrapper form's claude, or "".
func (a *app) governorFor(s *profiles.Setup, p profiles.Profile, args []string, users []userSetting, claudePath string) *governor {
	switch {
	case p.NoGovernor:
		a.log.Printf("governor off: governor = false in profile %s", p.Name)
		return nil
	case claudePath != "" && internalInvocation(args):
		return nil // Claude Code's own service processes: they reach Bedrock through the sessions they serve
	case classifyClaudeArgs(args) == otherCommand:
		// claude --version, mcp list, --help: no session, and nothing of
		// the launch is spent on one (the few subcommands that talk to
		// Bedrock do so directly, as with governor = false).
		a.log.Printf("governor off: not a session")
		return nil
	}
	facts := a.readClaudeSettings(users)
	g := &governor{}
	if self := a.self(); !facts.statusLine && self != "" {
		g.statusLine = shellQuote(self) + " +statusline"
	}
	off := func(why string) *governor {
		fmt.Fprintf(a.stderr, "claude-bedrock: governor off: %s\n", why)
		return nil
	}
	if facts.off != "" {
		return off(facts.off)
	}
	path, err := a.doctorPath()
	if err != nil {
		return off(err.Error())
	}
	// The token and the session id in one draw: at least 128 bits of
	// token (gatewayspec.Spec.Token), and a session id that two sessions
	// of the user's never share.
	var random [32 + 9]byte
	if err := randomBytes(random[:]); err != nil {
		return off("no random token: " + err.Error())
	}
	token := base64.RawURLEncoding.EncodeToString(random[:32])
	g.session = base64.RawURLEncoding.EncodeToString(random[32:])
	spec := &gatewayspec.Spec{
		Version:             gatewayspec.Version,
		Token:               token,
		SessionID:           g.session,
		Profile:             p.Name,
		Region:              p.Region,
		Model:               p.Model,
		MaxOutputTokens:     p.MaxOutputTokens,
		AWSProfile:          p.AWSProfile,
		TokensPerMinute:     p.TokensPerMinute,
		RequestsPerMinute:   p.RequestsPerMinute,
		Upstream:            facts.upstream(a.env),
		AWSCredentialExport: facts.credentialExport,
		AWSAuthRefresh:      facts.authRefresh,
		StateDir:            s.Paths.StateDir,
		CacheDir:            s.Paths.CacheDir,
		RuntimeDir:          a.runtimeDir(),
	}
	for k, v := range a.env {
		if strings.HasPrefix(k, "AWS_ENDPOINT_URL") {
			if spec.Endpoints == nil {
				spec.Endpoints = map[string]string{}
			}
			spec.Endpoints[k] = v
		}
	}
	gw, err := newGateway(path, a.environ, spec, a.log)
	if err != nil {
		return off(err.Error())
	}
	g.gw, g.token, g.url = gw, token, gw.url
	for _, k := range takenOver {
		if v, ok := a.env[k]; ok {
			g.own = append(g.own, envOwn+k+"="+v)
		}
	}
	return g
}

// gateway is the session's gateway process to supervise, nil when the
// governor is off.
func (g *governor) gateway() *gateway {
	if g == nil {
		return nil
	}
	return g.gw
}

// gatewayEnv is the gateway process's environment: the launcher's, less
// the variables whose user values travel in the Spec (Upstream), so that
// the Spec is the gateway's one source for them.
func gatewayEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case keyBaseURL, keyBearer, keySkip:
		default:
			out = append(out, kv)
		}
	}
	return out
}

// environ returns claude's environment for the governed session: the base
// URL and token of the gateway, no CLAUDE_CODE_SKIP_BEDROCK_AUTH (measured:
// with it, the control-plane request carries no token), and the session.
func (g *governor) environ(env []string) []string {
	if g == nil {
		return env
	}
	out := make([]string, 0, len(env)+8)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(takenOver, k) {
			out = append(out, kv)
		}
	}
	out = append(out, g.own...)
	return append(out, keyBaseURL+"="+g.url, keyBearer+"="+g.token, envGateway+"="+g.url, envSession+"="+g.session)
}

// settings adds to the profile's --settings JSON (ours, an object with an
// env object) what the governor needs there: Claude's settings files' env
// blocks beat the process environment (measured), so the base URL goes in
// --settings too, with CLAUDE_CODE_SKIP_BEDROCK_AUTH switched off ("0"
// measured to do it over a settings file's "1"); and the status line. The
// token never goes there: --settings is on claude's command line.
func (g *governor) settings(ours string) string {
	if g == nil || !strings.HasSuffix(ours, "}}") {
		return ours
	}
	var b bytes.Buffer
	b.WriteString(ours[:len(ours)-2])
	for _, kv := range [][2]string{{keyBaseURL, g.url}, {keySkip, "0"}} {
		fmt.Fprintf(&b, ",%s:%s", profiles.JSONString(kv[0]), profiles.JSONString(kv[1]))
	}
	b.WriteByte('}')
	if g.statusLine != "" {
		fmt.Fprintf(&b, `,"statusLine":{"type":"command","command":%s}`, profiles.JSONString(g.statusLine))
	}
	b.WriteByte('}')
	return b.String()
}

// settingsFacts is what the launcher needs to know of Claude's settings
// files and of a --settings the user passed.
type settingsFacts struct {
	statusLine       bool   // the user has a statusLine of their own
	off              string // why the governor cannot be between claude and Bedrock, or ""
	baseURL, skip    string // the settings files' values, of the file that wins
	hasBase, hasSkip bool
	credentialExport string // awsCredentialExport, of the file that wins
	authRefresh      bool   // awsAuthRefresh is set: claude runs it, the gateway waits for it
}

// upstream is what claude would have used without the governor: the
// settings files' values where they set them (they beat the environment),
// else the environment's.
func (f *settingsFacts) upstream(env map[string]string) gatewayspec.Upstream {
	u := gatewayspec.Upstream{BearerToken: env[keyBearer], BaseURL: env[keyBaseURL], SkipAuth: env[keySkip]}
	if f.hasBase {
		u.BaseURL = f.baseURL
	}
	if f.hasSkip {
		u.SkipAuth = f.skip
	}
	return u
}

// claudeSettingsFile is what the launcher reads of a Claude settings file.
type claudeSettingsFile struct {
	Env                 map[string]any  `json:"env"`
	StatusLine          json.RawMessage `json:"statusLine"`
	AWSAuthRefresh      any             `json:"awsAuthRefresh"`
	AWSCredentialExport any             `json:"awsCredentialExport"`
}

// settingsWords are the keys that matter here: a file that names none of
// them is not decoded at all (reading settings is on the launch path).
var settingsWords = [][]byte{[]byte("statusLine"), []byte("awsAuthRefresh"), []byte("awsCredentialExport"),
	[]byte(keyBaseURL), []byte(keyBearer), []byte(keySkip)}

// readClaudeSettings reads what matters to the governor from Claude's
// settings files (claudesettings.Files, the doctor's list) and from the
// user's --settings values, lowest precedence first.
func (a *app) readClaudeSettings(users []userSetting) settingsFacts {
	var f settingsFacts
	type source struct {
		name string
		kind int // fileSettings, flagSettings, managedSettings
		data []byte
	}
	const (
		fileSettings = iota
		flagSettings
		managedSettings
	)
	var sources []source
	for _, file := range claudesettings.Files(a.env["CLAUDE_CONFIG_DIR"], a.env["HOME"], a.cwd, "") {
		if file.Managed {
			// --settings ranks below the managed file.
			for _, u := range users {
				name := "your --settings"
				if u.file != "" {
					name += " " + u.file
				}
				sources = append(sources, source{name, flagSettings, []byte(u.text)})
			}
		}
		b, err := os.ReadFile(file.Path)
		if err != nil {
			continue // a file claude cannot read sets nothing
		}
		kind := fileSettings
		if file.Managed {
			kind = managedSettings
		}
		sources = append(sources, source{a.tilde(file.Path), kind, b})
	}
	for _, src := range sources {
		relevant := false
		for _, w := range settingsWords {
			relevant = relevant || bytes.Contains(src.data, w)
		}
		var s claudeSettingsFile
		if !relevant || json.Unmarshal(src.data, &s) != nil {
			continue // a file claude cannot read either sets nothing
		}
		if len(s.StatusLine) > 0 && string(s.StatusLine) != "null" {
			f.statusLine = true
		}
		if f.off != "" {
			continue
		}
		_, bearer := s.Env[keyBearer]
		base, hasBase := s.Env[keyBaseURL]
		skip, hasSkip := s.Env[keySkip]
		switch {
		case bearer:
			// Settings beat the environment (measured): claude would send
			// this key, not the session's token, and there is no way to
			// give the token in --settings without putting it on the
			// command line.
			f.off = src.name + " sets " + keyBearer
		case src.kind != fileSettings && (hasBase || hasSkip):
			// Managed settings beat --settings; a --settings of the user's
			// beats the launcher's keys in the merge.
			k := keyBaseURL
			if !hasBase {
				k = keySkip
			}
			f.off = src.name + " sets " + k
		}
		// awsAuthRefresh keeps the governor on: claude runs it on the
		// terminal at the session's start when the credentials fail (measured,
		// see gateway.Credentials), and the gateway signs with what it wrote.
		if c, ok := s.AWSAuthRefresh.(string); ok && c != "" {
			f.authRefresh = true
		}
		if hasBase {
			f.baseURL, f.hasBase = fmt.Sprint(base), true
		}
		if hasSkip {
			f.skip, f.hasSkip = fmt.Sprint(skip), true
		}
		if c, ok := s.AWSCredentialExport.(string); ok && c != "" {
			f.credentialExport = c
		}
	}
	return f
}

// tilde writes a path under HOME with ~, for messages.
func (a *app) tilde(p string) string {
	if h := a.env["HOME"]; h != "" && strings.HasPrefix(p, h+"/") {
		return "~" + p[len(h):]
	}
	return p
}

// doctorPath finds claude-bedrock-doctor, the AWS-linked binary: beside the
// launcher, else on PATH.
func (a *app) doctorPath() (string, error) {
	if self := a.self(); self != "" {
		if p := filepath.Join(filepath.Dir(self), doctorName); executableFile(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath(doctorName)
	if err != nil {
		return "", fmt.Errorf("%s is not installed beside claude-bedrock or on PATH: run ./install.sh again", doctorName)
	}
	return p, nil
}
