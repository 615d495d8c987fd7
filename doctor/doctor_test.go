package doctor

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/claude-bedrock/claude-bedrock/quota"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestMain lets the test binary stand in for claude: with DOCTOR_FAKE_CLAUDE
// set it behaves like `claude --version` and exits.
func TestMain(m *testing.M) {
	switch os.Getenv("DOCTOR_FAKE_CLAUDE") {
	case "version":
		fmt.Println("2.1.328 (Claude Code)")
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "boom")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// Static test credentials; none of these may ever appear in the output.
const (
	testKeyID   = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testEnvKey  = "AKIAENVEXAMPLE77"
	testEnvSec  = "EnvSecretDoNotPrint/abcdefghijklmnop"
	testSSOTok  = "SSOACCESSTOKENDONOTPRINT"
	testAccount = "123456789012"
	testSSOKey  = "ASIASSOEXAMPLE"
	testSSOSec  = "SSOroleSecretDoNotPrint"
	testSSOSess = "SSOroleSessionDoNotPrint"
)

var secrets = []string{testKeyID, testSecret, testSecret[:8], testEnvKey, testEnvSec, testSSOTok, testSSOKey, testSSOSec, testSSOSess}

// fakeQuota is one entry the fake Service Quotas returns.
type fakeQuota struct {
	Name, Code string
	Value      float64
}

// fakeAWS runs loopback fakes of STS (query protocol, XML), the Bedrock
// control plane (REST JSON) and Service Quotas (JSON 1.1), each on its own
// 127.0.0.1 server so that AWS_ENDPOINT_URL_<SERVICE> is exercised.
type fakeAWS struct {
	profiles map[string]string // inference-profile or model ID -> status
	quotas   []fakeQuota
	hang     bool // every endpoint hangs until the client gives up

	mu                    sync.Mutex
	requests              []string // "SERVICE credential-key-id"
	sts, bedrock, sq, sso *httptest.Server
}

func newFakeAWS(t *testing.T) *fakeAWS {
	f := &fakeAWS{
		profiles: map[string]string{
			"us.anthropic.claude-sonnet-4-5-20250929-v1:0": "ACTIVE",
			"eu.anthropic.claude-sonnet-4-6":               "ACTIVE",
		},
		quotas: []fakeQuota{
			{"On-demand model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", "L-AAAA0001", 50000},
			{"Cross-region model inference requests per minute for Anthropic Claude Sonnet 4.5 V1", "L-AAAA0002", 200},
			{"Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4 V1 1M Context Length", "L-AAAA0003", 999999},
			{"Global cross-Region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", "L-AAAA0004", 400000},
			{"Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", "L-AAAA0005", 200000},
		},
	}
	stop := make(chan struct{})
	start := func(name string, h http.HandlerFunc) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.record(name, r)
			if f.hang {
				select { // until the client gives up, or the test ends
				case <-r.Context().Done():
				case <-stop:
				}
				return
			}
			h(w, r)
		}))
		t.Cleanup(s.Close)
		return s
	}
	f.sts = start("STS", f.serveSTS)
	f.bedrock = start("BEDROCK", f.serveBedrock)
	f.sq = start("SERVICE_QUOTAS", f.serveQuotas)
	f.sso = start("SSO", f.serveSSO)
	t.Cleanup(func() { close(stop) }) // runs before the servers close
	return f
}

var credRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

func (f *fakeAWS) record(service string, r *http.Request) {
	key := "unsigned"
	if m := credRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		key = m[1]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, service+" "+key)
}

func (f *fakeAWS) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeAWS) serveSTS(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.PostForm.Get("Action") != "GetCallerIdentity" {
		http.Error(w, "unexpected STS request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::%[1]s:user/dev</Arn>
    <UserId>AIDAEXAMPLEUSERID</UserId>
    <Account>%[1]s</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`, testAccount)
}

// serveSSO is the SSO portal's GetRoleCredentials (REST JSON, bearer token).
func (f *fakeAWS) serveSSO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path != "/federation/credentials" || q.Get("account_id") != testAccount || q.Get("role_name") != "Developer" {
		http.Error(w, "unexpected SSO request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("X-Amz-Sso_bearer_token") != testSSOTok {
		w.Header().Set("X-Amzn-Errortype", "UnauthorizedException")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Session token not found or invalid"}`)
		return
	}
	// The SDK's credential cache runs on the real clock: expire an hour from now.
	fmt.Fprintf(w, `{"roleCredentials":{"accessKeyId":%q,"secretAccessKey":%q,"sessionToken":%q,"expiration":%d}}`,
		testSSOKey, testSSOSec, testSSOSess, time.Now().Add(time.Hour).UnixMilli())
}

func (f *fakeAWS) serveBedrock(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	notFound := func(id string) {
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"message":"The specified resource %s was not found."}`, id)
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/inference-profiles/"); ok && r.Method == http.MethodGet {
		st, ok := f.profiles[id]
		if !ok {
			notFound(id)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{ // a failed write shows as a client error
			"inferenceProfileId":   id,
			"inferenceProfileArn":  "arn:aws:bedrock:us-west-2:" + testAccount + ":inference-profile/" + id,
			"inferenceProfileName": "US " + id,
			"status":               st,
			"type":                 "SYSTEM_DEFINED",
			"models":               []map[string]string{{"modelArn": "arn:aws:bedrock:us-west-2::foundation-model/" + id[3:]}},
		})
		return
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/foundation-models/"); ok && r.Method == http.MethodGet {
		notFound(id)
		return
	}
	http.Error(w, "unexpected Bedrock request "+r.URL.Path, http.StatusBadRequest)
}

func (f *fakeAWS) serveQuotas(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "ServiceQuotasV20190624.ListServiceQuotas" {
		http.Error(w, "unexpected Service Quotas request", http.StatusBadRequest)
		return
	}
	var in struct {
		ServiceCode string
		MaxResults  int
		NextToken   string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ServiceCode != "bedrock" {
		http.Error(w, "bad ListServiceQuotas body", http.StatusBadRequest)
		return
	}
	// Two pages, so the paginator is exercised: the first two quotas, then the rest.
	page, next := f.quotas, ""
	if in.NextToken == "" && len(f.quotas) > 2 {
		page, next = f.quotas[:2], "page2"
	} else if in.NextToken == "page2" {
		page = f.quotas[2:]
	}
	out := map[string]any{"Quotas": []map[string]any{}}
	var qs []map[string]any
	for _, q := range page {
		qs = append(qs, map[string]any{"QuotaName": q.Name, "QuotaCode": q.Code, "Value": q.Value,
			"ServiceCode": "bedrock", "ServiceName": "Amazon Bedrock", "Unit": "None", "Adjustable": true})
	}
	if qs != nil {
		out["Quotas"] = qs
	}
	if next != "" {
		out["NextToken"] = next
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out) // a failed write shows as a client error
}

// env is the environment a test run sees: a throw-away HOME and the fakes.
func (f *fakeAWS) env(home string) map[string]string {
	return map[string]string{
		"HOME":                            home,
		"PATH":                            "/usr/bin:/bin",
		"AWS_ENDPOINT_URL_STS":            f.sts.URL,
		"AWS_ENDPOINT_URL_BEDROCK":        f.bedrock.URL,
		"AWS_ENDPOINT_URL_SERVICE_QUOTAS": f.sq.URL,
		"AWS_ENDPOINT_URL_SSO":            f.sso.URL,
		"AWS_EC2_METADATA_DISABLED":       "true",
		"DOCTOR_FAKE_CLAUDE":              "version",
		"GORACE":                          "atexit_sleep_ms=0", // a -race fake claude would otherwise linger 1s at exit
	}
}

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// setupHome writes a throw-away HOME with an AWS profile "dev" holding
// static test keys, and returns it.
func setupHome(t *testing.T) string {
	home := t.TempDir()
	write(t, filepath.Join(home, ".aws", "config"), `[profile dev]
region = us-west-2

[profile sso]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Developer
region = us-west-2

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile empty]
region = us-west-2
`)
	write(t, filepath.Join(home, ".aws", "credentials"), "[dev]\naws_access_key_id = "+testKeyID+"\naws_secret_access_key = "+testSecret+"\n")
	return home
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// baseInput is a healthy run of profile "code" with AWS profile "dev".
func baseInput(t *testing.T, f *fakeAWS, home string) Input {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		Profile:  "code",
		ChosenBy: "config default",
		Values: []Value{
			{"model", "sonnet", "built-in"},
			{"region", "us-west-2", "built-in"},
			{"max_output_tokens", "4096", "built-in"},
			{"aws_profile", "dev", "config ~/.config/claude-bedrock/config.toml"},
		},
		ConfigPath:          filepath.Join(home, ".config", "claude-bedrock", "config.toml"),
		ConfigExists:        true,
		SystemConfig:        "/etc/xdg/claude-bedrock/config.toml",
		Model:               "sonnet",
		Region:              "us-west-2",
		MaxOutputTokens:     4096,
		AWSProfile:          "dev",
		ClaudePath:          exe,
		Env:                 f.env(home),
		Cwd:                 filepath.Join(home, "project"),
		Home:                home,
		ManagedSettingsPath: filepath.Join(home, "managed-settings.json"),
		IncidentsPath:       filepath.Join(home, ".local", "state", "claude-bedrock", "incidents.jsonl"),
		CacheDir:            filepath.Join(home, ".cache", "claude-bedrock"),
		Now:                 func() time.Time { return testNow },
		Timeout:             5 * time.Second,
	}
}

// run runs the doctor both ways and checks that no secret is in either output.
func run(t *testing.T, in Input) (human, jsonOut string, ok bool, r Report) {
	t.Helper()
	var hb, jb bytes.Buffer
	ok, err := Run(context.Background(), in, &hb, false)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	okJSON, err := Run(context.Background(), in, &jb, true)
	if err != nil {
		t.Fatalf("Run --json: %v", err)
	}
	if ok != okJSON {
		t.Errorf("ok differs: human %v, json %v", ok, okJSON)
	}
	if err := json.Unmarshal(jb.Bytes(), &r); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, jb.String())
	}
	if r.OK != ok {
		t.Errorf("report ok %v, Run returned %v", r.OK, ok)
	}
	for _, s := range secrets {
		for name, out := range map[string]string{"human": hb.String(), "json": jb.String()} {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains the secret %q:\n%s", name, s, out)
			}
		}
	}
	return hb.String(), jb.String(), ok, r
}

func check(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

var portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// normalise makes output the same on every run: the temp HOME, the test
// binary standing in for claude, loopback ports.
func normalise(s string, in Input) string {
	if in.ClaudePath != "" {
		s = strings.ReplaceAll(s, in.ClaudePath, "/fake/claude")
	}
	s = strings.ReplaceAll(s, in.Home, "/home/user")
	return portRE.ReplaceAllString(s, "127.0.0.1:PORT")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./doctor -run %s -update to create it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func TestHealthy(t *testing.T) {
	f := newFakeAWS(t)
	home := setupHome(t)
	in := baseInput(t, f, home)
	human, js, ok, r := run(t, in)
	if !ok {
		t.Errorf("healthy run not ok:\n%s", human)
	}
	if r.Recommendation == nil || r.Recommendation.Cap != 8704 || r.Recommendation.TPM != 200000 || r.Recommendation.RPM != 200 {
		t.Errorf("recommendation = %+v, want cap 8704 from 200,000 TPM and 200 RPM", r.Recommendation)
	}
	if got := check(t, r, "identity").Summary; !strings.Contains(got, testAccount) {
		t.Errorf("identity %q lacks the account", got)
	}
	// Every request reached the fakes signed with the keys of the temp ~/.aws.
	for _, req := range f.seen() {
		if !strings.HasSuffix(req, " "+testKeyID) {
			t.Errorf("request %q not signed with %s", req, testKeyID)
		}
	}
	if n := len(f.seen()); n != 2*4 { // per run: STS, Bedrock, two pages of quotas
		t.Errorf("%d requests reached the fakes, want 8: %v", n, f.seen())
	}
	golden(t, "healthy", normalise(human, in))
	golden(t, "healthy.json", normalise(js, in))

	// The quota is now cached for +profiles, without network.
	rec, ok := quota.CachedRecommendation(in.CacheDir, "dev", "us-west-2", "sonnet", 0, 3, testNow.Add(time.Hour))
	if !ok || rec.Cap != 8704 {
		t.Errorf("CachedRecommendation after a run = %+v, %v; want cap 8704", rec, ok)
	}
}

// TestProblems is a run where much is wrong at once, pinned as golden files.
func TestProblems(t *testing.T) {
	f := newFakeAWS(t)
	home := setupHome(t)
	in := baseInput(t, f, home)
	in.ProjectFile = filepath.Join(home, "project", ".claude-bedrock.toml")
	in.ProjectTrust = "changed since +allow"
	in.ConfigExists, in.SystemConfig = false, ""
	in.ConfigWarn = "system config /etc/xdg/claude-bedrock/config.toml is not read: permission denied (ask the administrator to fix it; the built-in and your own profiles apply)"
	in.MaxOutputTokens = 32000
	in.Values[2] = Value{"max_output_tokens", "32000", "config ~/.config/claude-bedrock/config.toml"}
	in.ClaudePath, in.ClaudeErr = "", errors.New("claude is not on PATH")
	write(t, filepath.Join(home, ".claude", "settings.json"),
		`{"env":{"CLAUDE_CODE_MAX_OUTPUT_TOKENS":"7777","ANTHROPIC_MODEL":"opus","OTHER":"x"},"model":"opus"}`)
	write(t, filepath.Join(home, "project", ".claude", "settings.local.json"), `{"env": {`)
	write(t, in.ManagedSettingsPath, `{"env":{"AWS_REGION":"eu-west-1"}}`)
	var lines []string
	for _, inc := range []struct {
		ago           time.Duration
		profile, kind string
		capTokens     int
	}{
		{time.Hour, "code", "tokens_per_minute", 32000},
		{2 * time.Hour, "code", "tokens_per_minute", 32000},
		{3 * time.Hour, "code", "requests_per_minute", 32000},
		{26 * time.Hour, "code", "tokens_per_minute", 8192},
		{30 * time.Hour, "light", "tokens_per_minute", 1024},
		{8 * 24 * time.Hour, "code", "tokens_per_minute", 64000}, // older than a week
	} {
		lines = append(lines, fmt.Sprintf(`{"time":%q,"profile":%q,"model":"sonnet","region":"us-west-2","cap":%d,"kind":%q,"choice":"dismiss"}`,
			testNow.Add(-inc.ago).Format(time.RFC3339), inc.profile, inc.capTokens, inc.kind))
	}
	lines = append(lines, "not json")
	write(t, in.IncidentsPath, strings.Join(lines, "\n")+"\n")

	human, js, ok, r := run(t, in)
	if ok {
		t.Errorf("run with problems is ok:\n%s", human)
	}
	want := map[string]Status{"claude": Fail, "profile": Warn, "settings": Fail, "aws": OK, "identity": OK, "model": OK, "quota": Warn, "history": Warn}
	for name, st := range want {
		if got := check(t, r, name).Status; got != st {
			t.Errorf("check %s: status %s, want %s", name, got, st)
		}
	}
	if fix := check(t, r, "quota").Fix; !strings.Contains(fix, "CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS=8704") {
		t.Errorf("quota fix %q does not offer the recommended cap", fix)
	}
	golden(t, "problems", normalise(human, in))
	golden(t, "problems.json", normalise(js, in))
}

// laterOfBoth is an hour after both the real clock and testNow: a token
// valid then is valid to the SDK (real clock) and to the doctor (in.Now).
func laterOfBoth() time.Time {
	t := time.Now()
	if testNow.After(t) {
		t = testNow
	}
	return t.Add(time.Hour)
}

func TestExpiredSSO(t *testing.T) {
	for _, tt := range []struct {
		name    string
		token   string
		status  Status
		network bool
	}{
		{"expired", fmt.Sprintf(`{"accessToken":%q,"expiresAt":"2026-11-25T11:00:00Z","region":"us-east-1","startUrl":"https://corp.awsapps.com/start"}`, testSSOTok), Fail, false},
		{"missing", "", Fail, false},
		// The SDK checks the expiry on the real clock, the doctor on in.Now.
		{"valid", fmt.Sprintf(`{"accessToken":%q,"expiresAt":%q}`, testSSOTok, laterOfBoth().UTC().Format(time.RFC3339)), OK, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAWS(t)
			home := setupHome(t)
			if tt.token != "" {
				sum := sha1.Sum([]byte("corp")) // the SDK keys sso-session tokens by session name
				write(t, filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json"), tt.token)
			}
			in := baseInput(t, f, home)
			in.AWSProfile = "sso"
			human, _, ok, r := run(t, in)
			a := check(t, r, "aws")
			if a.Status != tt.status {
				t.Errorf("aws status %s, want %s:\n%s", a.Status, tt.status, human)
			}
			if tt.status == Fail {
				if ok || a.Fix != "aws sso login --profile sso" {
					t.Errorf("ok %v, fix %q; want not ok and fix 'aws sso login --profile sso'", ok, a.Fix)
				}
				if id := check(t, r, "identity"); id.Status != Unchecked {
					t.Errorf("identity %s, want unchecked", id.Status)
				}
				if tt.name == "expired" && !strings.Contains(human, "SSO session expired at 2026-11-25 11:00 UTC") {
					t.Errorf("no expiry time in:\n%s", human)
				}
			}
			if n := len(f.seen()); tt.network != (n > 0) {
				t.Errorf("%d requests reached the fakes: %v\n%s", n, f.seen(), human)
			}
			if tt.network && len(f.seen()) > 0 {
				// The role credentials the SSO portal handed out signed the rest.
				var want []string
				for _, req := range f.seen() {
					if svc := strings.Fields(req)[0]; svc == "SSO" {
						want = append(want, "SSO unsigned")
					} else {
						want = append(want, svc+" "+testSSOKey)
					}
				}
				if diff := cmp.Diff(want, f.seen()); diff != "" || !ok {
					t.Errorf("ok %v; requests (-want +got):\n%s\n%s", ok, diff, human)
				}
			}
		})
	}
}

func TestNoCredentials(t *testing.T) {
	for _, tt := range []struct {
		name, awsProfile, summary string
	}{
		{"default chain", "", "no AWS credentials found"},
		{"profile without keys", "empty", `no AWS credentials: AWS profile "empty"`},
		{"missing profile", "nosuch", `AWS profile "nosuch" (aws_profile of "code") is not in ~/.aws/config or ~/.aws/credentials`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAWS(t)
			home := setupHome(t)
			in := baseInput(t, f, home)
			in.AWSProfile = tt.awsProfile
			human, _, ok, r := run(t, in)
			a := check(t, r, "aws")
			if ok || a.Status != Fail || !strings.Contains(a.Summary, tt.summary) || a.Fix == "" {
				t.Errorf("ok %v, aws %s %q fix %q; want fail containing %q with a fix:\n%s", ok, a.Status, a.Summary, a.Fix, tt.summary, human)
			}
			if len(f.seen()) != 0 {
				t.Errorf("requests without credentials: %v", f.seen())
			}
			if !strings.Contains(human, "could not check: identity, model, quota") {
				t.Errorf("the summary does not name the checks not done:\n%s", human)
			}
		})
	}
}

// TestEnvKeys: keys in the environment are used (and never printed) when no
// AWS profile is named, and a named profile beats them.
func TestEnvKeys(t *testing.T) {
	f := newFakeAWS(t)
	home := setupHome(t)
	in := baseInput(t, f, home)
	in.AWSProfile = ""
	in.Env["AWS_ACCESS_KEY_ID"] = testEnvKey
	in.Env["AWS_SECRET_ACCESS_KEY"] = testEnvSec
	_, _, ok, r := run(t, in)
	if a := check(t, r, "aws"); !ok || !strings.Contains(a.Summary, "static keys from the environment") {
		t.Errorf("ok %v, aws %q", ok, a.Summary)
	}
	for _, req := range f.seen() {
		if !strings.HasSuffix(req, " "+testEnvKey) {
			t.Errorf("request %q not signed with the environment's key", req)
		}
	}

	f2 := newFakeAWS(t)
	in = baseInput(t, f2, home)
	in.Env["AWS_ACCESS_KEY_ID"] = testEnvKey
	in.Env["AWS_SECRET_ACCESS_KEY"] = testEnvSec
	_, _, _, r = run(t, in)
	if a := check(t, r, "aws"); !strings.Contains(a.Summary, "static keys from ~/.aws/credentials") {
		t.Errorf("aws %q: the named profile should win", a.Summary)
	}
	for _, req := range f2.seen() {
		if !strings.HasSuffix(req, " "+testKeyID) {
			t.Errorf("request %q not signed with the profile's key", req)
		}
	}
}

func TestModel(t *testing.T) {
	for _, tt := range []struct {
		name, model, region string
		status              Status
		contains            string
	}{
		{"unknown model", "us.anthropic.claude-nonexistent-9", "us-west-2", Fail, "Bedrock in us-west-2 does not know us.anthropic.claude-nonexistent-9"},
		{"prefix does not fit region", "us.anthropic.claude-sonnet-4-6", "eu-central-1", Fail, `set model = "eu.anthropic.claude-sonnet-4-6"`},
		{"prefix fits", "eu.anthropic.claude-sonnet-4-6", "eu-central-1", OK, `prefix "eu" fits region eu-central-1`},
		{"retired", "us.anthropic.claude-sonnet-4-20250514-v1:0", "us-west-2", Fail, "retired on Bedrock on 2026-10-14"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAWS(t)
			in := baseInput(t, f, setupHome(t))
			in.Model, in.Region = tt.model, tt.region
			human, _, ok, r := run(t, in)
			m := check(t, r, "model")
			if m.Status != tt.status || ok != (tt.status != Fail) {
				t.Errorf("model %s (ok %v), want %s:\n%s", m.Status, ok, tt.status, human)
			}
			if !strings.Contains(human, tt.contains) {
				t.Errorf("output lacks %q:\n%s", tt.contains, human)
			}
			if m.Status == Fail && m.Fix == "" {
				t.Errorf("failed model check without a fix")
			}
		})
	}
}

func TestSmallFastModel(t *testing.T) {
	f := newFakeAWS(t)
	in := baseInput(t, f, setupHome(t))
	in.Region = "eu-central-1"
	in.Model = "eu.anthropic.claude-sonnet-4-6"
	in.SmallFastModel = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	_, _, ok, r := run(t, in)
	m := check(t, r, "model")
	if ok || m.Status != Fail || !strings.Contains(m.Fix, `set small_fast_model = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"`) {
		t.Errorf("ok %v, model %s fix %q; want a failure with the eu. ID as fix", ok, m.Status, m.Fix)
	}
	in.SmallFastModel = "haiku" // an alias takes the region's prefix
	_, _, ok, r = run(t, in)
	if m := check(t, r, "model"); !ok || m.Status != OK {
		t.Errorf("alias haiku: ok %v, model %s %v", ok, m.Status, m.Details)
	}
}

func TestCapAboveCeiling(t *testing.T) {
	f := newFakeAWS(t)
	in := baseInput(t, f, setupHome(t))
	in.MaxOutputTokens = 100000
	_, _, ok, r := run(t, in)
	m := check(t, r, "model")
	if ok || m.Status != Fail || !strings.Contains(m.Fix, "set max_output_tokens = 64000") {
		t.Errorf("ok %v, model %s fix %q; want a failure with the ceiling as fix", ok, m.Status, m.Fix)
	}
}

func TestQuota(t *testing.T) {
	t.Run("not found", func(t *testing.T) {
		f := newFakeAWS(t)
		f.quotas = f.quotas[:3] // no cross-region TPM quota for Sonnet 4.5
		in := baseInput(t, f, setupHome(t))
		human, _, ok, r := run(t, in)
		q := check(t, r, "quota")
		if !ok || q.Status != Warn || r.Recommendation != nil || !strings.Contains(q.Summary, "no cross-region tokens-per-minute quota for Claude Sonnet 4.5") {
			t.Errorf("ok %v, quota %s %q, recommendation %+v:\n%s", ok, q.Status, q.Summary, r.Recommendation, human)
		}
	})
	t.Run("global", func(t *testing.T) {
		f := newFakeAWS(t)
		f.profiles["global.anthropic.claude-sonnet-4-5-20250929-v1:0"] = "ACTIVE"
		in := baseInput(t, f, setupHome(t))
		in.Model = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
		_, _, _, r := run(t, in)
		if r.Recommendation == nil || r.Recommendation.TPM != 400000 || r.Recommendation.Cap != 22016 {
			t.Errorf("recommendation %+v, want the global quota 400,000 and cap 22,016", r.Recommendation)
		}
	})
	t.Run("too small", func(t *testing.T) {
		f := newFakeAWS(t)
		f.quotas[4].Value = 60000
		in := baseInput(t, f, setupHome(t))
		_, _, _, r := run(t, in)
		q := check(t, r, "quota")
		if q.Status != Warn || !strings.Contains(q.Fix, "request-service-quota-increase --service-code bedrock --quota-code L-AAAA0005") {
			t.Errorf("quota %s fix %q: want a quota increase command", q.Status, q.Fix)
		}
	})
	t.Run("from the cache when Service Quotas hangs", func(t *testing.T) {
		f := newFakeAWS(t)
		in := baseInput(t, f, setupHome(t))
		run(t, in) // fills the cache
		f.hang = true
		in.Timeout = 300 * time.Millisecond
		_, _, _, r := run(t, in)
		q := check(t, r, "quota")
		if r.Recommendation == nil || r.Recommendation.Cap != 8704 || !strings.Contains(strings.Join(q.Details, "\n"), "from the cache of 2026-11-25 12:00 UTC") {
			t.Errorf("quota %s %q %v, recommendation %+v: want the cached quota", q.Status, q.Summary, q.Details, r.Recommendation)
		}
	})
}

// TestHang: endpoints that never answer cost one timeout, not a hang, and
// each is a failure that says what to look at: claude would wait on them too.
func TestHang(t *testing.T) {
	f := newFakeAWS(t)
	f.hang = true
	in := baseInput(t, f, setupHome(t))
	in.Timeout = 500 * time.Millisecond
	start := time.Now()
	var b bytes.Buffer
	ok, err := Run(context.Background(), in, &b, false)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	// Generous for a loaded 2-core machine; the point is that nothing waits
	// for the hanging servers beyond the timeouts.
	if elapsed > TotalTimeout {
		t.Errorf("doctor took %s with hanging endpoints and a 500ms timeout", elapsed)
	}
	out := b.String()
	if ok {
		t.Errorf("endpoints that do not answer are a failure:\n%s", out)
	}
	for _, want := range []string{
		"✗ identity   STS did not answer within 500ms",
		"not confirmed with Bedrock: Bedrock did not answer within 500ms",
		"✗ quota      not checked: Service Quotas did not answer within 500ms",
		"fix: point AWS_ENDPOINT_URL_STS=http://127.0.0.1:PORT at a reachable endpoint, or unset it; check the network from here: curl -sI http://127.0.0.1:PORT; behind a proxy, set HTTPS_PROXY; check the region us-west-2: Bedrock must be offered there",
		"\n3 problems, 0 warnings.\n",
	} {
		if !strings.Contains(normalise(out, in), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestHangDefaultTimeouts: with the real timeouts the whole doctor still
// ends well within 10 seconds when every endpoint hangs.
func TestHangDefaultTimeouts(t *testing.T) {
	f := newFakeAWS(t)
	f.hang = true
	in := baseInput(t, f, setupHome(t))
	in.Timeout = 0
	start := time.Now()
	r := Diagnose(context.Background(), in)
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("doctor took %s with hanging endpoints", elapsed)
	}
	got := map[string]string{}
	for _, name := range []string{"identity", "model", "quota"} {
		c := check(t, r, name)
		got[name] = string(c.Status) + ": " + c.Summary
	}
	want := map[string]string{
		"identity": "fail: STS did not answer within 4s",
		"model":    "fail: us.anthropic.claude-sonnet-4-5-20250929-v1:0 (Claude Sonnet 4.5); not confirmed with Bedrock: Bedrock did not answer within 4s",
		"quota":    "fail: not checked: Service Quotas did not answer within 4s",
	}
	if diff := cmp.Diff(want, got); diff != "" || r.OK || r.Verified {
		t.Errorf("ok %v, verified %v; checks (-want +got):\n%s", r.OK, r.Verified, diff)
	}
}

// TestUnreachable: an endpoint that refuses connections fails its check,
// with what to look at; the checks whose endpoints answer still run.
func TestUnreachable(t *testing.T) {
	f := newFakeAWS(t)
	in := baseInput(t, f, setupHome(t))
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // its port now refuses connections
	in.Env["AWS_ENDPOINT_URL_STS"] = dead.URL
	in.Env["HTTPS_PROXY"] = "http://user:proxyPassword@proxy.corp:3128"
	human, _, ok, r := run(t, in)
	id := check(t, r, "identity")
	if ok || id.Status != Fail || !strings.Contains(id.Summary, "could not reach STS: dial tcp") || !strings.Contains(id.Summary, "connection refused") {
		t.Errorf("ok %v, identity %s %q:\n%s", ok, id.Status, id.Summary, human)
	}
	for _, want := range []string{"AWS_ENDPOINT_URL_STS=" + dead.URL, "check the proxy in HTTPS_PROXY (proxy.corp:3128) and NO_PROXY", "region us-west-2"} {
		if !strings.Contains(id.Fix, want) {
			t.Errorf("identity fix %q lacks %q", id.Fix, want)
		}
	}
	if strings.Contains(human, "proxyPassword") {
		t.Errorf("the proxy's password was printed:\n%s", human)
	}
	if r.Recommendation == nil || !r.Verified {
		t.Error("the other checks should still have run")
	}
}

// TestNothingVerified: a report in which AWS answered none of identity,
// model and quota never ends in "0 problems", and is not ok.
func TestNothingVerified(t *testing.T) {
	r := Report{Profile: "code", OK: false, Checks: []Check{
		{Name: "aws", Status: OK, Summary: "static keys"},
		{Name: "identity", Status: Unchecked, Summary: "not checked"},
		{Name: "model", Status: Unchecked, Summary: "not checked"},
		{Name: "quota", Status: Unchecked, Summary: "not checked"},
	}, Unchecked: []string{"identity: x", "model: x", "quota: x"}}
	out := Render(r)
	if strings.Contains(out, "0 problems") || !strings.Contains(out, "1 problem, 0 warnings; could not check: identity, model, quota.") {
		t.Errorf("report:\n%s", out)
	}
}

// TestRedact: even a secret that lands in a message by accident (here a
// settings file that quotes the environment's secret key) is not printed.
func TestRedact(t *testing.T) {
	f := newFakeAWS(t)
	home := setupHome(t)
	in := baseInput(t, f, home)
	in.Env["AWS_SECRET_ACCESS_KEY"] = testEnvSec
	write(t, filepath.Join(home, ".claude", "settings.json"),
		fmt.Sprintf(`{"env":{"AWS_PROFILE":%q,"ANTHROPIC_MODEL":%q}}`, testSecret, testEnvSec))
	human, _, _, _ := run(t, in) // run fails the test on any secret in the output
	if !strings.Contains(human, "sets env.AWS_PROFILE = [redacted]") {
		t.Errorf("redaction marker missing:\n%s", human)
	}
}

// TestInstanceRole: with no keys anywhere, an instance role found through
// the instance metadata service settles the aws check.
func TestInstanceRole(t *testing.T) {
	f := newFakeAWS(t)
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			fmt.Fprint(w, "imds-session-token")
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			fmt.Fprint(w, "bedrock-role")
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/bedrock-role":
			fmt.Fprintf(w, `{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":%q,"SecretAccessKey":%q,"Token":%q,"Expiration":%q}`,
				testSSOKey, testSSOSec, testSSOSess, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(imds.Close)
	in := baseInput(t, f, setupHome(t))
	in.AWSProfile = ""
	delete(in.Env, "AWS_EC2_METADATA_DISABLED")
	in.Env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.URL
	human, _, ok, r := run(t, in)
	a := check(t, r, "aws")
	if !ok || a.Status != OK || a.Summary != "credentials from the instance or container role" {
		t.Errorf("ok %v, aws %s %q:\n%s", ok, a.Status, a.Summary, human)
	}
	for _, req := range f.seen() {
		if !strings.HasSuffix(req, " "+testSSOKey) {
			t.Errorf("request %q not signed with the role's key", req)
		}
	}
}

// TestClaude covers a claude whose --version fails.
func TestClaude(t *testing.T) {
	f := newFakeAWS(t)
	in := baseInput(t, f, setupHome(t))
	in.Env["DOCTOR_FAKE_CLAUDE"] = "fail"
	_, _, ok, r := run(t, in)
	if c := check(t, r, "claude"); ok || c.Status != Fail || !strings.Contains(c.Summary, "--version failed") || c.Fix == "" {
		t.Errorf("ok %v, claude %s %q fix %q", ok, c.Status, c.Summary, c.Fix)
	}
}

// TestRunWriteError: a failing writer is Run's only error.
func TestRunWriteError(t *testing.T) {
	f := newFakeAWS(t)
	in := baseInput(t, f, setupHome(t))
	if _, err := Run(context.Background(), in, errWriter{}, false); err == nil {
		t.Error("Run ignored a write error")
	}
	if _, err := Run(context.Background(), in, io.Discard, true); err != nil {
		t.Errorf("Run --json: %v", err)
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestNum(t *testing.T) {
	for in, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 200000: "200,000", 1234567: "1,234,567", -1067: "-1,067"} {
		if got := num(in); got != want {
			t.Errorf("num(%d) = %q, want %q", in, got, want)
		}
	}
}

// TestBurndownPerModel: the arithmetic counts each model's documented
// burndown (Opus 5.5 10x, Sonnet 4.5 5x, Opus 4.8 15x), advises with 10 for
// a model no source documents and says so, takes a profile's burndown key
// over both, and finds nothing wrong with a model that has no
// requests-per-minute quota.
func TestBurndownPerModel(t *testing.T) {
	tests := []struct {
		name, model string
		burndown    int // the profile's key
		quota       fakeQuota
		wantRate    int
		wantKnown   bool
		wantCap     int
		contains    string
	}{
		{"Opus 5.5 at 10x", "us.anthropic.claude-opus-5-5", 0,
			fakeQuota{"Cross-region model inference tokens per minute for Anthropic Claude Opus 5.5", "L-OPUS55", 1000000}, 10, true, 30976,
			"burndown 10 for Claude Opus 5.5: each output token counts 10 times"},
		{"Opus 4.8 at 15x", "us.anthropic.claude-opus-4-8", 0,
			fakeQuota{"Cross-region model inference tokens per minute for Anthropic Claude Opus 4.8", "L-OPUS48", 1000000}, 15, true, 20736,
			"burndown 15 for Claude Opus 4.8"},
		{"Haiku 5.5 unknown", "us.anthropic.claude-haiku-5-5", 0,
			fakeQuota{"Cross-region model inference tokens per minute for Anthropic Claude Haiku 5.5", "L-HAIKU55", 1000000}, 10, false, 30976,
			`burndown unknown: no AWS source documents it for Claude Haiku 5.5; counted at 10, the highest of its generation (set burndown = N in profile "code" if you know it)`},
		{"Haiku 5.5 with burndown = 5", "us.anthropic.claude-haiku-5-5", 5,
			fakeQuota{"Cross-region model inference tokens per minute for Anthropic Claude Haiku 5.5", "L-HAIKU55", 1000000}, 5, true, 62208,
			`burndown 5 for Claude Haiku 5.5, as burndown = 5 in profile "code" says (AWS's page documents none)`},
		{"Sonnet 5 has no RPM quota", "us.anthropic.claude-sonnet-5", 0,
			fakeQuota{"Cross-region model inference tokens per minute for Anthropic Claude Sonnet 5", "L-SONNET5", 6000000}, 10, true, 128000,
			"no requests-per-minute quota for Claude Sonnet 5: only tokens per minute limit it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAWS(t)
			f.profiles[tt.model] = "ACTIVE"
			f.quotas = append(f.quotas, tt.quota)
			in := baseInput(t, f, setupHome(t))
			in.Model, in.Burndown, in.MaxOutputTokens = tt.model, tt.burndown, 8192
			human, _, ok, r := run(t, in)
			rec := r.Recommendation
			if !ok || rec == nil || rec.Burndown != tt.wantRate || rec.BurndownKnown != tt.wantKnown || rec.Cap != tt.wantCap {
				t.Fatalf("ok %v, recommendation %+v; want burndown %d (known %v), cap %d:\n%s", ok, rec, tt.wantRate, tt.wantKnown, tt.wantCap, human)
			}
			if q := check(t, r, "quota"); q.Status != OK || !strings.Contains(human, tt.contains) {
				t.Errorf("quota %s; want ok and %q:\n%s", q.Status, tt.contains, human)
			}
		})
	}
}

// TestOpus55 pins the worked example for Claude Code's default model on
// Bedrock, Opus 5.5 (10x), at the built-in large profile's cap.
func TestOpus55(t *testing.T) {
	f := newFakeAWS(t)
	f.profiles["us.anthropic.claude-opus-5-5"] = "ACTIVE"
	f.quotas = append(f.quotas, fakeQuota{"Cross-region model inference tokens per minute for Anthropic Claude Opus 5.5", "L-OPUS55", 200000})
	home := setupHome(t)
	in := baseInput(t, f, home)
	in.Profile, in.Model, in.MaxOutputTokens = "large", "opus", 8192
	in.Values = []Value{{"model", "opus", "built-in"}, {"region", "us-west-2", "built-in"}, {"max_output_tokens", "8192", "built-in"}}
	human, _, _, r := run(t, in)
	if r.Recommendation == nil || r.Recommendation.Burndown != 10 || r.Recommendation.Cap != 4352 {
		t.Errorf("recommendation %+v, want burndown 10 and cap 4,352", r.Recommendation)
	}
	golden(t, "opus55", normalise(human, in))
}
