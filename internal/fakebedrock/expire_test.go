package fakebedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/claude-bedrock/claude-bedrock/internal/fakebedrock"
)

// An expired key is refused as AWS refuses one, at Bedrock (403
// ExpiredTokenException) and at STS (ExpiredToken), read here by the AWS
// SDK's own STS client; a valid key passes both.
func TestExpiredKey(t *testing.T) {
	fresh := fakebedrock.Key{AccessKeyID: "AKIAFRESHKEY00000001", SecretAccessKey: "fresh/secret/for/tests/only/0000000000"}
	old := fakebedrock.Key{AccessKeyID: "AKIAOLDKEY0000000001", SecretAccessKey: "old/secret/for/tests/only/000000000000"}
	later := fakebedrock.Key{AccessKeyID: "AKIALATERKEY00000001", SecretAccessKey: "later/secret/for/tests/only/0000000000"}
	fake := fakebedrock.New(t, fakebedrock.WithSigV4("us-west-2", fresh, old, later), fakebedrock.WithExpired(old.AccessKeyID))
	fake.Expire(later.AccessKeyID)
	turn, _ := json.Marshal(turnBody(100, "hi")) // plain map
	for _, tc := range []struct {
		key     fakebedrock.Key
		expired bool
	}{{fresh, false}, {old, true}, {later, true}} {
		resp := signed(t, "POST", fake.URL()+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", turn, nil, tc.key, "us-west-2", time.Now())
		body, _ := io.ReadAll(resp.Body)
		wantStatus, wantType := http.StatusOK, ""
		if tc.expired {
			wantStatus, wantType = http.StatusForbidden, fakebedrock.ExpiredToken+":http://internal.amazon.com/coral/com.amazon.coral.service/"
		}
		if resp.StatusCode != wantStatus || resp.Header.Get("x-amzn-ErrorType") != wantType {
			t.Errorf("%s at Bedrock: %d %q %s; want %d %q", tc.key.AccessKeyID, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body, wantStatus, wantType)
		}
		if tc.expired && string(body) != `{"message":"`+fakebedrock.ExpiredMessage+`"}` {
			t.Errorf("%s at Bedrock: body %s", tc.key.AccessKeyID, body)
		}

		client := sts.New(sts.Options{Region: "us-west-2", BaseEndpoint: aws.String(fake.URL()),
			Credentials: credentials.NewStaticCredentialsProvider(tc.key.AccessKeyID, tc.key.SecretAccessKey, "")})
		out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		var ae smithy.APIError
		switch {
		case tc.expired && (!errors.As(err, &ae) || ae.ErrorCode() != "ExpiredToken"):
			t.Errorf("%s at STS: %v; want ExpiredToken", tc.key.AccessKeyID, err)
		case !tc.expired && (err != nil || aws.ToString(out.UserId) != tc.key.AccessKeyID):
			t.Errorf("%s at STS: %v, %v; want its identity", tc.key.AccessKeyID, out, err)
		}
	}
	var stsCalls int
	for _, r := range fake.Requests() {
		if r.Op == "sts" {
			stsCalls++
		}
	}
	if stsCalls != 3 {
		t.Errorf("%d STS requests recorded, want 3", stsCalls)
	}
}
