package launcher

import (
	"regexp"
	"testing"
)

// The expressions sessionIDIn was first written with: the reference it is
// checked against.
var (
	refEscapeRE  = regexp.MustCompile(`\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|.)`)
	refSessionRE = regexp.MustCompile(`--resume\s+([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})`)
)

func refSessionIDIn(out []byte) string {
	m := refSessionRE.FindAllSubmatch(refEscapeRE.ReplaceAll(out, []byte(" ")), -1)
	if len(m) == 0 {
		return ""
	}
	return string(m[len(m)-1][1])
}

const testID = "0b5e7c2a-91f4-4d7e-8a3b-5c6d7e8f9a0b"

func TestSessionIDIn(t *testing.T) {
	tests := []struct{ name, out, want string }{
		{"plain", "Resume this session with:\r\nclaude --resume " + testID + "\r\n", testID},
		{"colours between", "claude \x1b[2m--resume\x1b[22m\x1b[1C" + testID + "\x1b[0m", testID},
		{"the last of two", "--resume 11111111-2222-3333-4444-555555555555 then --resume " + testID, testID},
		{"an OSC title between", "--resume\x1b]0;title\x07" + testID, testID},
		{"no space", "--resume" + testID, ""},
		{"cut short", "--resume " + testID[:30], ""},
		{"not hex", "--resume 0b5e7c2a-91f4-4d7e-8a3b-5c6d7e8f9a0g", ""},
		{"none", "Goodbye!\r\n", ""},
	}
	for _, tt := range tests {
		if got := sessionIDIn([]byte(tt.out)); got != tt.want {
			t.Errorf("%s: sessionIDIn(%q) = %q, want %q", tt.name, tt.out, got, tt.want)
		}
		if ref := refSessionIDIn([]byte(tt.out)); ref != tt.want {
			t.Errorf("%s: the reference finds %q, the table says %q", tt.name, ref, tt.want)
		}
	}
}

// FuzzSessionIDIn checks sessionIDIn against the regular expressions.
func FuzzSessionIDIn(f *testing.F) {
	f.Add([]byte("claude \x1b[2m--resume\x1b[22m " + testID))
	f.Add([]byte("--resume\x1b]0;t\x1b\\\t" + testID + "\x1b[?25h"))
	f.Add([]byte("--resume \x1b\n" + testID + " \x1b]x\x1bq --resume\x1b\xe2\x94\x80" + testID))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := sessionIDIn(b), refSessionIDIn(b); got != want {
			t.Fatalf("sessionIDIn(%q) = %q, the regular expressions find %q", b, got, want)
		}
	})
}
