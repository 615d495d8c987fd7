package launcher

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPassiveInput(t *testing.T) {
	for in, want := range map[string]bool{
		"\x1b[I":                           true,
		"\x1b[O\x1b[I":                     true,
		"\x1b[<64;10;5M\x1b[<65;10;5M":     true,
		"\x1b[<0;1;1m":                     true,
		"\x1b[M !!":                        true,
		"\x1b[?997;1n":                     true, // the colour scheme changed (mode 2031)
		"\x1b[?2026;2$y\x1b[?62;c":         true,
		"\x1b]11;rgb:0000/0000/0000\x1b\\": true,
		"\x1bP>|kitty(0.40.0)\x1b\\":       true,
		"\x1b]11;rgb:0":                    false,
		"\x1b[1;5A":                        false, // Ctrl-Up
		"\x1b[27u":                         false, // Esc under the kitty protocol
		"":                                 false,
		"y":                                false,
		"\x1b[Iy":                          false,
		"\x1b[<64;10;5":                    false,
		"\x1b[13u":                         false,
		"\x1b[200~paste\x1b[201~":          false,
	} {
		if got := passiveInput([]byte(in)); got != want {
			t.Errorf("passiveInput(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestReadAnswer: the first key typed answers an offer only when it is an
// answer and came after OfferArming; anything else is the user typing to
// claude, and reaches claude.
func TestReadAnswer(t *testing.T) {
	relaunch := Proposal{Relaunch: true, CanKeep: true}
	tests := []struct {
		name      string
		keys      []offerKey
		p         Proposal
		choice    string
		rest      string // the keys left for claude, joined
		forwarded string // what went to claude while the offer stayed
	}{
		{"y relaunches", keys(false, "y"), relaunch, "relaunch", "", ""},
		{"k keeps, the rest is for the next claude", keys(false, "k", "hi"), relaunch, "keep", "hi", ""},
		{"n dismisses", keys(false, "n", "h", "i"), relaunch, "dismiss", "hi", ""},
		{"Esc dismisses", keys(false, "\x1b"), relaunch, "dismiss", "", ""},
		{"typing dismisses and goes on", keys(false, "t", "r", "y"), relaunch, "dismiss", "try", ""},
		{"a y typed before the offer could be read", keys(true, "y", "es"), relaunch, "dismiss", "yes", ""},
		{"y on an offer that only informs", keys(false, "y"), Proposal{}, "dismiss", "y", ""},
		{"focus and mouse reports pass", keys(false, "\x1b[I", "\x1b[<64;10;5M", "y"), relaunch, "relaunch", "", "\x1b[I\x1b[<64;10;5M"},
		{"only reports: the offer stays", keys(false, "\x1b[O"), relaunch, "", "", "\x1b[O"},
		{"Enter under the kitty protocol is typing", keys(false, "\x1b[13u"), relaunch, "dismiss", "\x1b[13u", ""},
		{"kitty Esc", keys(false, "\x1b[27u"), relaunch, "dismiss", "", ""},
		{"kitty Esc with Num Lock", keys(false, "\x1b[27;129u"), relaunch, "dismiss", "", ""},
		{"kitty Ctrl-C with Num Lock", keys(false, "\x1b[99;133u"), relaunch, "dismiss", "", ""},
		{"kitty Ctrl-C with Caps Lock", keys(false, "\x1b[99;69u"), relaunch, "dismiss", "", ""},
		{"kitty Ctrl-Shift-C is typing", keys(false, "\x1b[99;6u"), relaunch, "dismiss", "\x1b[99;6u", ""},
	}
	for _, tt := range tests {
		var claude bytes.Buffer
		r := &runner{}
		r.sb.attach(&claude)
		choice, rest := r.readAnswer(tt.keys, tt.p)
		var left []string
		for _, k := range rest {
			left = append(left, string(k.p))
		}
		if choice != tt.choice || strings.Join(left, "") != tt.rest || claude.String() != tt.forwarded {
			t.Errorf("%s: choice %q, rest %q, forwarded %q; want %q, %q, %q",
				tt.name, choice, strings.Join(left, ""), claude.String(), tt.choice, tt.rest, tt.forwarded)
		}
	}
}

func keys(early bool, ks ...string) []offerKey {
	var out []offerKey
	for _, k := range ks {
		out = append(out, offerKey{p: []byte(k), early: early})
	}
	return out
}

// TestSwitchboardOffer: keys read while an offer shows wait for it, are
// marked early within OfferArming, and on release go to claude in the
// order they were typed, with those read after takeKeys last.
func TestSwitchboardOffer(t *testing.T) {
	var claude bytes.Buffer
	var sb switchboard
	sb.attach(&claude)
	ready := sb.capture()
	sb.deliver([]byte("a"))
	select {
	case <-ready:
	default:
		t.Fatal("no word that a key waits")
	}
	got := sb.takeKeys()
	if len(got) != 1 || string(got[0].p) != "a" || !got[0].early {
		t.Fatalf("takeKeys = %+v, want one early \"a\"", got)
	}
	sb.deliver([]byte("b"))
	if claude.Len() != 0 {
		t.Fatalf("claude got %q while the offer showed", claude.String())
	}
	sb.release(got)
	sb.deliver([]byte("c"))
	if claude.String() != "abc" {
		t.Errorf("claude got %q, want \"abc\"", claude.String())
	}

	sb.capture()
	sb.offerSince = time.Now().Add(-OfferArming) // as if it had shown for a while
	sb.deliver([]byte("y"))
	if k := sb.takeKeys(); len(k) != 1 || k[0].early {
		t.Errorf("a key after OfferArming: %+v, want one not early", k)
	}
	sb.rearm() // shown again, after a stop
	sb.deliver([]byte("y"))
	if k := sb.takeKeys(); len(k) != 1 || !k[0].early {
		t.Errorf("a key right after rearm: %+v, want one early", k)
	}
	sb.detach()
	sb.release(keys(false, "typed on"))
	var next bytes.Buffer
	sb.attach(&next)
	if next.String() != "typed on" || claude.String() != "abc" {
		t.Errorf("after detach, release and attach: next claude got %q, old %q", next.String(), claude.String())
	}
}

// Enter and Ctrl-Z are noticed however the terminal sends them: as bytes,
// or under the kitty keyboard protocol, with Caps Lock or Num Lock on too.
func TestKittyKeysNoticed(t *testing.T) {
	for _, tt := range []struct {
		in           string
		enter, ctrlZ bool
	}{
		{"hello\r", true, false},
		{"\x1b[13u", true, false},
		{"hi\x1b[13;129u", true, false},
		{"\x1b[13;2u", false, false}, // Shift-Enter: a new line in the input box, not a send
		{"\x1a", false, true},
		{"\x1b[122;5u", false, true},
		{"\x1b[122;69u", false, true},
		{"\x1b[122;133u", false, true},
		{"\x1b[122;5:3u", false, false}, // the release
		{"\x1b[122u", false, false},     // z alone
		{"\x1b[?1u\x1b[1;5A", false, false},
	} {
		var entered, stopped bool
		var claude bytes.Buffer
		sb := switchboard{onEnter: func() { entered = true }, onCtrlZ: func() { stopped = true }}
		sb.attach(&claude)
		sb.deliver([]byte(tt.in))
		if entered != tt.enter || stopped != tt.ctrlZ || claude.String() != tt.in {
			t.Errorf("%q: Enter %v, Ctrl-Z %v, claude got %q; want %v, %v and all of it", tt.in, entered, stopped, claude.String(), tt.enter, tt.ctrlZ)
		}
	}
}
