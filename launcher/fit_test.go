package launcher

import "testing"

// The banner shows the longest text that fits; on a terminal narrower than
// the shortest it keeps the end, where the keys are.
func TestFitTextKeepsTheKeys(t *testing.T) {
	texts := []string{"Bedrock throttled at cap 4096. Relaunch at 2048?  y yes · n no", "429: 4096→2048? y/n", "429 →2048? y/n"}
	tests := []struct {
		width int
		want  string
	}{
		{80, texts[0]},
		{19, texts[1]},
		{18, texts[2]},
		{14, texts[2]},
		{8, "…48? y/n"},
		{1, "n"},
		{0, ""},
		{-1, ""},
	}
	for _, tt := range tests {
		if got := fitText(texts, tt.width); got != tt.want {
			t.Errorf("width %d: %q, want %q", tt.width, got, tt.want)
		}
	}
}
