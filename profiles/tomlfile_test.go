package profiles

import "testing"

func TestPlainTypeError(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cannot decode TOML string into struct field profiles.x.max_output_tokens of type int64", "got a TOML string, want a whole number, without quotes"},
		{"cannot decode TOML integer into struct field config.default of type *string", "got a TOML integer, want a string in double quotes"},
		{"cannot decode TOML string into a field of type of type bool", "got a TOML string, want true or false"},
		{"cannot decode TOML string into struct field x of type float64", "cannot decode TOML string into struct field x of type float64"},
		{"cannot decode TOML inline table into struct field x of type int64", "cannot decode TOML inline table into struct field x of type int64"},
		{"cannot decode TOML string into x of type int64 ", "cannot decode TOML string into x of type int64 "},
		{"toml: expected newline", "toml: expected newline"},
	}
	for _, tt := range tests {
		if got := plainTypeError(tt.in); got != tt.want {
			t.Errorf("plainTypeError(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
