package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
	"github.com/claude-bedrock/claude-bedrock/quota"
)

// serviceQuotas is a loopback Service Quotas answering ListServiceQuotas
// with one Sonnet 4.5 cross-region tokens-per-minute quota.
func serviceQuotas(t *testing.T, tpm float64) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("X-Amz-Target") != "ServiceQuotasV20190624.ListServiceQuotas" || !strings.Contains(r.Header.Get("Authorization"), "AKIDGATEWAYTEST") {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"Quotas": []map[string]any{{
			"QuotaName": "Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1",
			"QuotaCode": "L-TEST", "Value": tpm, "ServiceCode": "bedrock",
		}}}) // a failed write fails the test below
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestQuotaSource(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDGATEWAYTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	b := governor.Bucket{Region: "us-west-2", Model: "anthropic.claude-sonnet-4-5-20250929-v1:0", Kind: quota.Kind("us")}

	t.Run("the profile's own limits win", func(t *testing.T) {
		srv, calls := serviceQuotas(t, 300000)
		s := &quotaSource{spec: &gatewayspec.Spec{TokensPerMinute: 50000, RequestsPerMinute: 20, CacheDir: t.TempDir(),
			Endpoints: map[string]string{"AWS_ENDPOINT_URL_SERVICE_QUOTAS": srv.URL}}, log: log.New(io.Discard, "", 0)}
		if got, want := s.limits(b), (governor.Limits{TokensPerMinute: 50000, RequestsPerMinute: 20, Source: "profile"}); got != want {
			t.Errorf("limits = %+v, want %+v", got, want)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("Service Quotas asked %d times, want none", n)
		}
	})

	t.Run("a missing quota is looked up in the background and cached", func(t *testing.T) {
		srv, calls := serviceQuotas(t, 300000)
		cache := t.TempDir()
		looked := make(chan error, 1)
		s := &quotaSource{spec: &gatewayspec.Spec{CacheDir: cache,
			Endpoints: map[string]string{"AWS_ENDPOINT_URL_SERVICE_QUOTAS": srv.URL}}, log: log.New(io.Discard, "", 0),
			looked: func(_ governor.Bucket, err error) { looked <- err }}
		if got := s.limits(b); got.TokensPerMinute != 0 {
			t.Fatalf("limits before the lookup = %+v, want unknown", got)
		}
		select {
		case err := <-looked:
			if err != nil {
				t.Fatalf("lookup: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no lookup within 30 s")
		}
		if got, want := s.limits(b), (governor.Limits{TokensPerMinute: 300000, Source: "service quotas"}); got != want {
			t.Errorf("limits after the lookup = %+v, want %+v", got, want)
		}
		if q, ok := quota.ReadCache(cache, "", b.Region, "us."+b.Model, time.Now()); !ok || q.TPM != 300000 {
			t.Errorf("cache = %+v, %v; want the quota, for the doctor and the next sessions", q, ok)
		}
		s.limits(b)
		if n := calls.Load(); n != 1 {
			t.Errorf("Service Quotas asked %d times, want once", n)
		}
	})

	t.Run("a fresh cache entry is used as it is", func(t *testing.T) {
		srv, calls := serviceQuotas(t, 300000)
		cache := t.TempDir()
		if err := quota.WriteCache(cache, quota.Cached{Region: b.Region, Model: "us." + b.Model, TPM: 120000, RPM: 40, Fetched: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		s := &quotaSource{spec: &gatewayspec.Spec{CacheDir: cache,
			Endpoints: map[string]string{"AWS_ENDPOINT_URL_SERVICE_QUOTAS": srv.URL}}, log: log.New(io.Discard, "", 0)}
		if got, want := s.limits(b), (governor.Limits{TokensPerMinute: 120000, RequestsPerMinute: 40, Source: "service quotas"}); got != want {
			t.Errorf("limits = %+v, want %+v", got, want)
		}
		if s.asked[b] || calls.Load() != 0 {
			t.Errorf("a lookup started although the cache had the quota")
		}
	})
}

// TestExportedCredentialsRenew: awsCredentialExport's output signs; when
// Bedrock refuses it the gateway renews, which runs the command again and
// signs with what it prints now, never anything else; its failure never
// quotes its output.
func TestExportedCredentialsRenew(t *testing.T) {
	out := filepath.Join(t.TempDir(), "creds.json")
	print := func(id string) {
		js := `{"Credentials":{"AccessKeyId":"` + id + `","SecretAccessKey":"exportSecretValue","SessionToken":"tok","Expiration":"` +
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}}`
		if err := os.WriteFile(out, []byte(js), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	print("AKIDEXPORT1")
	c := exportedCredentials("cat "+out, true)
	for i, want := range []string{"AKIDEXPORT1", "AKIDEXPORT1", "AKIDEXPORT2"} {
		got, err := c.Retrieve(ctx)
		if err != nil || got.AccessKeyID != want || got.Source != "awsCredentialExport" {
			t.Errorf("Retrieve %d = %s from %q, %v; want %s", i, got.AccessKeyID, got.Source, err, want)
		}
		if i == 0 {
			print("AKIDEXPORT2") // cached until renewed
		} else {
			c.Renew(ctx)
		}
	}
	if err := os.WriteFile(out, []byte(`{"Credentials":{"AccessKeyId":"AKIDBROKEN","SecretAccessKey":"leakedSecretValue"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := exportedCredentials("cat "+out, true).Retrieve(ctx); err == nil || strings.Contains(err.Error(), "leakedSecretValue") {
		t.Errorf("output that does not parse: %v; want an error without the secret", err)
	}
}
