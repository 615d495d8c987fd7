package profiles

import "testing"

// TestReplaceValue: only the value's bytes change. A '#' or a quote inside a
// string value is part of the value, not the start of a comment; strings of
// that kind never name a profile, so the config tests cannot reach them.
func TestReplaceValue(t *testing.T) {
	tests := []struct{ in, key, want string }{
		{"x = \"a # b\"  # c\n", "x", "x = 1  # c\n"},
		{"x = \"a \\\" # b\" # c\n", "x", "x = 1 # c\n"},
		{"x = 'a # \"b' # c\n", "x", "x = 1 # c\n"},
		{"x = \"\"\"a\n# b\"\"\" # c\ny = 2\n", "x", "x = 1 # c\ny = 2\n"},
		{"\"x\"=\"#\"#c", "x", "\"x\"=1#c"},
		{"y = \"x = 2\" # x = 3\n[t]\nx = 2 # t.x\n", "t.x", "y = \"x = 2\" # x = 3\n[t]\nx = 1 # t.x\n"},
		{"a.b = 2 # c\n", "a.b", "a.b = 1 # c\n"},
	}
	for _, tt := range tests {
		got, ok := replaceValue([]byte(tt.in), tt.key, "1")
		if !ok || string(got) != tt.want {
			t.Errorf("replaceValue(%q, %q) = %q, %v; want %q", tt.in, tt.key, got, ok, tt.want)
		}
	}
	for _, in := range []string{"", "y = 2 # x = 3\n", "[x]\ny = 2\n", "x = [1, 2]\n"} {
		if got, ok := replaceValue([]byte(in), "x", "1"); ok {
			t.Errorf("replaceValue(%q, \"x\") = %q, true; want not found", in, got)
		}
	}
}
