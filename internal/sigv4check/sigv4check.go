// Package sigv4check verifies AWS Signature Version 4 on an incoming HTTP
// request, the way an AWS service other than S3 does, for loopback fakes of
// AWS services in tests.
//
// It is written from AWS's published description of the algorithm (the
// canonical request, the string to sign, the signing-key derivation and the
// signature) with the standard library only, and never from the AWS SDK's
// signer: a signature made by the SDK is then checked by code that did not
// make it, so a gateway that signs wrongly fails here as it would at AWS.
// Refusals are *Error values carrying the status, error type and message an
// AWS JSON service answers with.
package sigv4check

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm this package accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// DefaultMaxSkew is how far a request's date may be from the service's clock:
// AWS refuses signatures older or newer than five minutes.
const DefaultMaxSkew = 5 * time.Minute

// The error types AWS JSON services name in x-amzn-ErrorType (Bedrock among
// them; S3 and the query-protocol services word some differently).
const (
	// MissingAuthenticationToken: no Authorization header at all.
	MissingAuthenticationToken = "MissingAuthenticationTokenException"
	// IncompleteSignature: an Authorization header AWS cannot parse.
	IncompleteSignature = "IncompleteSignatureException"
	// UnrecognizedClient: an unknown access key or an invalid session token.
	UnrecognizedClient = "UnrecognizedClientException"
	// InvalidSignature: a signature that does not match, a date out of the
	// window or a credential scoped to the wrong service or region. (S3 and
	// STS call a mismatch SignatureDoesNotMatch; Bedrock says this.)
	InvalidSignature = "InvalidSignatureException"
	// ContentSHA256Mismatch: an x-amz-content-sha256 header that is not the
	// SHA-256 of the body received.
	ContentSHA256Mismatch = "XAmzContentSHA256Mismatch"
)

// Error is a refusal, as an AWS service words it.
type Error struct {
	// Status is the HTTP status AWS answers with (403, or 400 for a body
	// whose hash does not match its header).
	Status int
	// Code is the error type, one of the constants above.
	Code string
	// Message is the body's "message".
	Message string
}

// Error reads "<Code>: <Message>".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Credential is what a request's signature says about its signer. Verify
// fills what it could parse even when it refuses the request, so a fake can
// record which key a refused request used.
type Credential struct {
	AccessKeyID string
	// Date is the signing time from X-Amz-Date (or Date).
	Date time.Time
	// Region and Service are the credential scope's.
	Region, Service string
	// SignedHeaders are the lowercase names the signature covers, sorted.
	SignedHeaders []string
	// SecurityToken is true when X-Amz-Security-Token was sent and signed.
	SecurityToken bool
}

// Verifier checks signatures for one service.
type Verifier struct {
	// Secret returns the secret access key of an access key ID, and false
	// for a key the service does not know.
	Secret func(accessKeyID string) (secret string, ok bool)
	// Service is the signing name the credential scope must carry, e.g. "bedrock".
	Service string
	// Region, when not empty, is the region the credential scope must carry.
	Region string
	// MaxSkew bounds the distance between the signing time and Now;
	// 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the service's clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks r's SigV4 signature for service, with body as the request's
// payload (r.Body is not read), at time now; maxSkew 0 means five minutes.
// It returns nil for a valid signature, or an *Error naming the refusal as
// AWS would.
func Verify(r *http.Request, body []byte, creds func(accessKeyID string) (secret string, ok bool), service string, now time.Time, maxSkew time.Duration) error {
	v := Verifier{Secret: creds, Service: service, MaxSkew: maxSkew, Now: func() time.Time { return now }}
	_, err := v.Verify(r, body)
	return err
}

// Verify checks r's signature with body as its payload. It returns what the
// signature names, and nil or an *Error.
func (v Verifier) Verify(r *http.Request, body []byte) (Credential, error) {
	var c Credential
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return c, &Error{http.StatusForbidden, MissingAuthenticationToken, "Missing Authentication Token"}
	}
	auth, err := parseAuthorization(authz)
	if err != nil {
		return c, err
	}
	c.AccessKeyID, c.Region, c.Service, c.SignedHeaders = auth.keyID, auth.region, auth.service, auth.signedHeaders

	stamp, date, err := requestDate(r)
	if err != nil {
		return c, err
	}
	c.Date = date
	for _, h := range auth.signedHeaders {
		if h == "x-amz-security-token" && r.Header.Get("X-Amz-Security-Token") != "" {
			c.SecurityToken = true
		}
	}
	if !contains(auth.signedHeaders, "host") {
		return c, invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if auth.date != stamp[:8] {
		return c, invalid(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", auth.date, stamp[:8], stamp))
	}
	if auth.terminator != "aws4_request" {
		return c, invalid(fmt.Sprintf("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", auth.terminator))
	}
	if auth.service != v.Service {
		return c, invalid(fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", v.Service))
	}
	if v.Region != "" && auth.region != v.Region {
		return c, invalid(fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", auth.region))
	}

	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	t := now().UTC()
	if date.Before(t.Add(-skew)) {
		return c, invalid(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			stamp, t.Add(-skew).Format(timeFormat), t.Format(timeFormat), skewWords(skew)))
	}
	if date.After(t.Add(skew)) {
		return c, invalid(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
			stamp, t.Add(skew).Format(timeFormat), t.Format(timeFormat), skewWords(skew)))
	}

	secret, ok := v.Secret(auth.keyID)
	if !ok {
		return c, &Error{http.StatusForbidden, UnrecognizedClient, "The security token included in the request is invalid."}
	}

	payloadHash := hexSHA256(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return c, &Error{http.StatusBadRequest, ContentSHA256Mismatch, "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	creq := CanonicalRequest(r, auth.signedHeaders, payloadHash)
	scope := strings.Join([]string{auth.date, auth.region, auth.service, "aws4_request"}, "/")
	sts := StringToSign(stamp, scope, creq)
	want := hex.EncodeToString(hmacSHA256(SigningKey(secret, auth.date, auth.region, auth.service), []byte(sts)))
	if !hmac.Equal([]byte(want), []byte(auth.signature)) {
		// Bedrock tells the client what it computed; so does this, which makes
		// a failing test say where the two sides differ. Unlike Bedrock, it
		// leaves the session token out: the message may end up in a log.
		shown := creq
		if tok := r.Header.Get("X-Amz-Security-Token"); tok != "" {
			shown = strings.ReplaceAll(shown, tok, "<session token>")
		}
		return c, invalid("The request signature we calculated does not match the signature you provided. " +
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\n" +
			"The Canonical String for this request should have been\n'" + shown + "'\n\n" +
			"The String-to-Sign should have been\n'" + sts + "'\n")
	}
	return c, nil
}

const timeFormat = "20060102T150405Z"

func invalid(msg string) *Error { return &Error{http.StatusForbidden, InvalidSignature, msg} }

func skewWords(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return d.String()
}

// authorization is a parsed "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
type authorization struct {
	keyID, date, region, service, terminator string
	signedHeaders                            []string
	signature                                string
}

func parseAuthorization(h string) (authorization, error) {
	var a authorization
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != Algorithm {
		return a, &Error{http.StatusForbidden, IncompleteSignature, fmt.Sprintf("Unsupported AWS 'algorithm': '%s'.", alg)}
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return a, &Error{http.StatusForbidden, IncompleteSignature, fmt.Sprintf("Authorization header requires each component to be of the form key=value: '%s'.", strings.TrimSpace(p))}
		}
		params[k] = val
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	if len(missing) > 0 {
		return a, &Error{http.StatusForbidden, IncompleteSignature, strings.Join(missing, " ") + " Authorization=" + Algorithm}
	}
	parts := strings.Split(params["Credential"], "/")
	if len(parts) != 5 {
		return a, &Error{http.StatusForbidden, IncompleteSignature, fmt.Sprintf("Credential should have 5 parts separated by '/': '%s'.", params["Credential"])}
	}
	a.keyID, a.date, a.region, a.service, a.terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	a.signedHeaders = strings.Split(params["SignedHeaders"], ";")
	a.signature = params["Signature"]
	return a, nil
}

// requestDate reads X-Amz-Date, or the Date header when it is absent.
func requestDate(r *http.Request) (string, time.Time, error) {
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		t, err := time.Parse(timeFormat, s)
		if err != nil {
			return "", time.Time{}, &Error{http.StatusForbidden, IncompleteSignature, fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'.", s)}
		}
		return s, t, nil
	}
	if s := r.Header.Get("Date"); s != "" {
		t, err := http.ParseTime(s)
		if err == nil {
			return t.UTC().Format(timeFormat), t.UTC(), nil
		}
	}
	return "", time.Time{}, &Error{http.StatusForbidden, IncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
}

// CanonicalRequest builds SigV4's canonical request for r: the method, the
// canonical URI, the canonical query string, the canonical headers, the
// signed header names and the payload's hex SHA-256, one per line.
func CanonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) string {
	rawPath, rawQuery := rawTarget(r)
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(CanonicalURI(rawPath))
	b.WriteByte('\n')
	b.WriteString(CanonicalQuery(rawQuery))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// rawTarget returns the path and query exactly as they came on the wire: a
// server's RequestURI when it has one (Go's URL.Path is already unescaped,
// which would lose the difference between ":" and "%3A"), else the URL's
// escaped form.
func rawTarget(r *http.Request) (path, query string) {
	if strings.HasPrefix(r.RequestURI, "/") {
		path, query, _ = strings.Cut(r.RequestURI, "?")
		return path, query
	}
	return r.URL.EscapedPath(), r.URL.RawQuery
}

// CanonicalURI normalizes a path as it arrived on the wire (dot segments
// removed, repeated slashes merged, as AWS does for every service but S3) and
// URI-encodes it. The path is already encoded once on the wire, so this is
// the second encoding AWS asks for: ":" sent as "%3A" becomes "%253A".
func CanonicalURI(rawPath string) string {
	var segs []string
	for _, s := range strings.Split(rawPath, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	p := "/" + strings.Join(segs, "/")
	if len(segs) > 0 && strings.HasSuffix(rawPath, "/") {
		p += "/"
	}
	return uriEncode(p, false)
}

// CanonicalQuery decodes each parameter of a raw query, encodes its name and
// value again as SigV4 specifies, and sorts them by name, then value.
func CanonicalQuery(rawQuery string) string {
	var pairs []string
	for _, p := range strings.Split(rawQuery, "&") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		pairs = append(pairs, uriEncode(queryUnescape(k), true)+"="+uriEncode(queryUnescape(v), true))
	}
	// Sorting "name=value" strings would order "a-b=" before "a=": sort by
	// name first, then by value, as the specification says.
	sort.Slice(pairs, func(i, j int) bool {
		ki, vi, _ := strings.Cut(pairs[i], "=")
		kj, vj, _ := strings.Cut(pairs[j], "=")
		if ki != kj {
			return ki < kj
		}
		return vi < vj
	})
	return strings.Join(pairs, "&")
}

// queryUnescape decodes a query component as a form does ("+" is a space);
// a malformed escape is kept as it came.
func queryUnescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// uriEncode percent-encodes every byte but the unreserved characters
// A-Z a-z 0-9 - . _ ~ (and "/" unless encodeSlash), in upper-case hex.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// headerValue is a header's canonical value: every value trimmed, runs of
// spaces collapsed to one, joined with commas in the order they came.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		host := r.Host
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		vals = []string{host}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			// Go keeps the length in the request, not among its headers.
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// StringToSign is SigV4's string to sign: the algorithm, the request time,
// the credential scope and the hex SHA-256 of the canonical request.
func StringToSign(stamp, scope, canonicalRequest string) string {
	return Algorithm + "\n" + stamp + "\n" + scope + "\n" + hexSHA256([]byte(canonicalRequest))
}

// SigningKey derives the signing key: HMAC-SHA256 chained over the date
// (YYYYMMDD), the region, the service and "aws4_request", keyed first with
// "AWS4" + the secret access key.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
