package fakebedrock

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/internal/sigv4check"
)

// Credentials that expire, and the STS call by which Claude Code finds out
// that they have.

// ExpiredToken is the error type with which AWS refuses expired
// credentials; ExpiredMessage is its message, the same at Bedrock and STS.
const (
	ExpiredToken   = "ExpiredTokenException"
	ExpiredMessage = "The security token included in the request is expired"
)

// WithExpired makes the keys with these access key IDs expired from the
// start: requests they sign correctly are refused as AWS refuses expired
// credentials (403 ExpiredTokenException).
func WithExpired(ids ...string) Option {
	return func(c *config) {
		if c.auth.expired == nil {
			c.auth.expired = map[string]bool{}
		}
		for _, id := range ids {
			c.auth.expired[id] = true
		}
	}
}

// Expire makes the key with access key ID id expired from now on.
func (s *Server) Expire(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auth.expired == nil {
		s.auth.expired = map[string]bool{}
	}
	s.auth.expired[id] = true
}

// isExpired reports whether the key id has expired.
func (s *Server) isExpired(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth.expired[id]
}

// expiredRefusal is Bedrock's answer to a request signed with expired
// credentials.
var expiredRefusal = errorAnswer{http.StatusForbidden, ExpiredToken + authSuffix, ExpiredMessage}

// isSTS reports whether r is an STS query-protocol call (POST / with a form
// body naming an Action), which Claude Code sends to AWS_ENDPOINT_URL_STS,
// else AWS_ENDPOINT_URL, to check the user's credentials.
func isSTS(r *http.Request, body []byte) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") &&
		strings.Contains(string(body), "Action=")
}

// answerSTS answers STS GetCallerIdentity when the fake requires SigV4: the
// signature is checked for service "sts" with the fake's keys, and an
// expired key is refused as STS refuses it (400 ExpiredToken, in STS's XML).
// Other actions are refused as STS refuses an unknown one.
func (s *Server) answerSTS(w http.ResponseWriter, r *http.Request, body []byte, rec Request) {
	rec.Op = "sts"
	form, _ := url.ParseQuery(string(body)) // a malformed body names no action
	a := &s.auth
	v := sigv4check.Verifier{Service: "sts", Region: a.region, Now: s.now, Secret: func(id string) (string, bool) {
		k, ok := a.keys[id]
		return k.SecretAccessKey, ok
	}}
	c, err := v.Verify(r, body)
	rec.AccessKeyID, rec.Signed = c.AccessKeyID, c.AccessKeyID != ""
	status, code, msg := http.StatusOK, "", ""
	switch {
	case err != nil:
		// STS words the sigv4check refusals in its own codes.
		status, code, msg = http.StatusForbidden, "SignatureDoesNotMatch", err.Error()
		if e, ok := err.(*sigv4check.Error); ok && e.Code == sigv4check.UnrecognizedClient {
			code, msg = "InvalidClientTokenId", "The security token included in the request is invalid."
		}
	case s.isExpired(c.AccessKeyID):
		status, code, msg = http.StatusBadRequest, "ExpiredToken", ExpiredMessage
	case form.Get("Action") != "GetCallerIdentity":
		status, code, msg = http.StatusBadRequest, "InvalidAction", "fakebedrock: only GetCallerIdentity"
	}
	rec.Status, rec.Done = status, true
	rec.Answer = "ok"
	if code != "" {
		rec.Answer = code
	}
	s.record(rec)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	if code != "" {
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake-sts</RequestId></ErrorResponse>`, code, xmlEscape(msg))
		return
	}
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/fakebedrock</Arn><UserId>%s</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>fake-sts</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, xmlEscape(c.AccessKeyID))
}

// xmlEscape escapes s for XML text.
func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
