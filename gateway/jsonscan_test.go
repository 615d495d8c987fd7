package gateway

import (
	"encoding/json"
	"testing"
)

func TestMaxTokens(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int
		ok   bool
	}{
		{`{"max_tokens":32000}`, 32000, true},
		{` { "messages" : [ {"role":"user","content":"say \"max_tokens\": 5"} ] , "max_tokens" : 1 } `, 1, true},
		{`{"messages":[{"content":[{"type":"tool_use","input":{"max_tokens":7}}]}],"max_tokens":64000}`, 64000, true},
		{`{"tools":[{"input_schema":{"properties":{"max_tokens":{"type":"integer"}}}}]}`, 0, false},
		{`{"max_tokens":1,"max_tokens":2}`, 2, true},
		{`{"max_tokens":4.096e3}`, 4096, true},
		{`{"max\u005ftokens":9}`, 9, true},
		{`{"a":"\\","max_tokens":3}`, 3, true},
		{`{"max_tokens":-1}`, 0, false},
		{`{"max_tokens":1.5}`, 0, false},
		{`{"max_tokens":"100"}`, 0, false},
		{`{"max_tokens":null}`, 0, false},
		{`{}`, 0, false},
		{`[]`, 0, false},
		{``, 0, false},
		{`{"max_tokens":10`, 0, false},
		{`{"a":"unterminated,"max_tokens":10}`, 0, false},
	} {
		got, ok := maxTokens([]byte(tc.body))
		if got != tc.want || ok != tc.ok {
			t.Errorf("maxTokens(%s) = %d, %v; want %d, %v", tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzMaxTokens: on any valid JSON, the scan agrees with encoding/json.
func FuzzMaxTokens(f *testing.F) {
	for _, s := range []string{`{"max_tokens":32000}`, `{"a":[{"max_tokens":1}],"max_tokens":2}`, `{"x":"\"max_tokens\":3"}`, `{"max_tokens":1e2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := maxTokens(b) // must never panic, valid or not
		if !json.Valid(b) {
			return
		}
		var m map[string]any
		wantOK := false
		want := 0
		if json.Unmarshal(b, &m) == nil {
			if v, isNum := m["max_tokens"].(float64); isNum && v >= 0 && v < 1<<31 && v == float64(int(v)) {
				want, wantOK = int(v), true
			}
		}
		if got != want || ok != wantOK {
			t.Errorf("maxTokens(%q) = %d, %v; encoding/json says %d, %v", b, got, ok, want, wantOK)
		}
	})
}
