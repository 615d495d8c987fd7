package fakebedrock

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/internal/sigv4check"
)

// Key is an AWS access key the fake accepts in SigV4 signatures.
type Key struct {
	AccessKeyID, SecretAccessKey string
	// SessionToken, when not empty, must come as X-Amz-Security-Token,
	// signed, as it does with temporary credentials.
	SessionToken string
}

// auth is what the fake requires of every request. With neither keys nor a
// bearer token it requires nothing.
type auth struct {
	keys   map[string]Key
	region string
	bearer string
	// teammate is the key RunTeammate signs with, accepted whenever SigV4 is.
	teammate Key
	// expired are the access key IDs refused as expired (under Server.mu).
	expired map[string]bool
}

// authSuffix ends the x-amzn-ErrorType of authentication refusals: they come
// from AWS's front end, not from Bedrock.
const authSuffix = ":http://internal.amazon.com/coral/com.amazon.coral.service/"

// WithSigV4 requires every request to be signed with SigV4 for service
// "bedrock" in region by one of keys (region "": any), checked by package
// sigv4check. Refusals are Bedrock's: 403 with the error type in
// x-amzn-ErrorType and {"message": …}. With WithBearer too, either passes.
func WithSigV4(region string, keys ...Key) Option {
	return func(c *config) {
		if c.auth.keys == nil {
			c.auth.keys = map[string]Key{}
		}
		for _, k := range keys {
			c.auth.keys[k.AccessKeyID] = k
		}
		c.auth.region = region
	}
}

// WithBearer requires every request to carry "Authorization: Bearer <token>",
// as Bedrock API keys do (compared in constant time). With WithSigV4 too,
// either passes.
func WithBearer(token string) Option { return func(c *config) { c.auth.bearer = token } }

// required reports whether the fake checks authentication at all.
func (a *auth) required() bool { return len(a.keys) > 0 || a.bearer != "" }

// addTeammate makes the teammate's own key, when SigV4 is required.
func (a *auth) addTeammate() {
	if len(a.keys) == 0 {
		return
	}
	secret := make([]byte, 20)
	_, _ = rand.Read(secret) // crypto/rand does not fail on Linux
	a.teammate = Key{AccessKeyID: TeammateAccessKeyID, SecretAccessKey: hex.EncodeToString(secret)}
	a.keys[a.teammate.AccessKeyID] = a.teammate
}

// TeammateAccessKeyID is the access key ID RunTeammate signs with when the
// fake requires SigV4, as another user of the same AWS account would.
const TeammateAccessKeyID = "AKIDFAKEBEDROCKMATE1"

// authenticate checks r and notes in rec what it carried; it returns the
// refusal to answer with, or nil.
func (s *Server) authenticate(r *http.Request, body []byte, rec *Request) *errorAnswer {
	a := &s.auth
	authz := r.Header.Get("Authorization")
	bearer, isBearer := strings.CutPrefix(authz, "Bearer ")
	if strings.HasPrefix(authz, sigv4check.Algorithm+" ") {
		rec.Signed = true
		if _, after, ok := strings.Cut(authz, "Credential="); ok {
			rec.AccessKeyID, _, _ = strings.Cut(after, "/")
		}
	}
	if !a.required() {
		return nil
	}
	if isBearer && a.bearer != "" {
		if subtle.ConstantTimeCompare([]byte(bearer), []byte(a.bearer)) == 1 {
			rec.Auth = "bearer"
			return nil
		}
		return &errorAnswer{http.StatusForbidden, sigv4check.UnrecognizedClient + authSuffix, "The security token included in the request is invalid."}
	}
	if len(a.keys) == 0 {
		if authz == "" {
			return &errorAnswer{http.StatusForbidden, sigv4check.MissingAuthenticationToken + authSuffix, "Missing Authentication Token"}
		}
		return &errorAnswer{http.StatusForbidden, sigv4check.UnrecognizedClient + authSuffix, "The security token included in the request is invalid."}
	}
	v := sigv4check.Verifier{Service: "bedrock", Region: a.region, Now: s.now, Secret: func(id string) (string, bool) {
		k, ok := a.keys[id]
		return k.SecretAccessKey, ok
	}}
	c, err := v.Verify(r, body)
	var e *sigv4check.Error
	if errors.As(err, &e) {
		return &errorAnswer{e.Status, e.Code + authSuffix, e.Message}
	}
	if err != nil {
		return &errorAnswer{http.StatusForbidden, sigv4check.IncompleteSignature + authSuffix, err.Error()}
	}
	// Temporary credentials are only valid with their session token, signed.
	if tok := a.keys[c.AccessKeyID].SessionToken; tok != "" &&
		(!c.SecurityToken || subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Amz-Security-Token")), []byte(tok)) != 1) {
		return &errorAnswer{http.StatusForbidden, sigv4check.UnrecognizedClient + authSuffix, "The security token included in the request is invalid."}
	}
	if s.isExpired(c.AccessKeyID) {
		return &expiredRefusal
	}
	rec.Auth = "sigv4"
	return nil
}
