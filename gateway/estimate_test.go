package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// noisePNG is a PNG of w × h random pixels, stored uncompressed, in base64:
// about 1.9 MB at 600 × 600.
func noisePNG(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	_, _ = rand.NewChaCha8([32]byte{1}).Read(img.Pix) // never fails
	return encodePNG(t, img, png.NoCompression)
}

// blankPNG is a PNG of w × h blank pixels in base64: a few KB, whatever
// its size.
func blankPNG(t *testing.T, w, h int) string {
	t.Helper()
	return encodePNG(t, image.NewGray(image.Rect(0, 0, w, h)), png.BestSpeed)
}

func encodePNG(t *testing.T, img image.Image, level png.CompressionLevel) string {
	t.Helper()
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// turnWith is a turn body as Claude Code writes it, with the given content
// blocks after a text block.
func turnWith(t *testing.T, blocks ...map[string]any) string {
	t.Helper()
	content := append([]any{map[string]any{"type": "text", "text": "What is on this screen?"}}, anySlice(blocks)...)
	b, err := json.Marshal(map[string]any{
		"anthropic_version": "bedrock-2023-05-31", "max_tokens": 32000,
		"messages": []any{map[string]any{"role": "user", "content": content}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func anySlice(m []map[string]any) []any {
	out := make([]any, len(m))
	for i, v := range m {
		out[i] = v
	}
	return out
}

func imageBlock(mediaType, data string) map[string]any {
	return map[string]any{"type": "image", "source": map[string]any{"type": "base64", "media_type": mediaType, "data": data}}
}

func TestEstimateInput(t *testing.T) {
	shot := noisePNG(t, 600, 600)
	if len(shot) < 1<<20 {
		t.Fatalf("the test screenshot is %d bytes of base64, want over 1 MB", len(shot))
	}
	textOf := func(body string, data ...string) int {
		n := len(body)
		for _, d := range data {
			n -= len(d)
		}
		return n / 4
	}
	big := blankPNG(t, 2000, 1500) // resized by Anthropic: the cap
	pdf := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("%PDF-1.7 some text "), 400))
	unknown := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("RIFF....WEBPVP8 "), 200))
	quoted := strings.Repeat("a", 2000)
	for _, tc := range []struct {
		name string
		body string
		want func(body string) int
	}{
		{"text only", turnWith(t), func(b string) int { return len(b) / 4 }},
		{"a 1 MB screenshot", turnWith(t, imageBlock("image/png", shot)), func(b string) int {
			return textOf(b, shot) + 600*600/750
		}},
		{"an image over the resize limit", turnWith(t, imageBlock("image/png", big)), func(b string) int {
			return textOf(b, big) + maxImageTokens
		}},
		{"an image whose size cannot be read", turnWith(t, imageBlock("image/webp", unknown)), func(b string) int {
			return textOf(b, unknown) + maxImageTokens
		}},
		{"two screenshots", turnWith(t, imageBlock("image/png", shot), imageBlock("image/png", shot)), func(b string) int {
			return textOf(b, shot, shot) + 2*(600*600/750)
		}},
		{"a PDF document", turnWith(t, map[string]any{"type": "document", "source": map[string]any{"type": "base64", "media_type": "application/pdf", "data": pdf}}), func(b string) int {
			return textOf(b, pdf) + base64.StdEncoding.DecodedLen(len(pdf))/4
		}},
		{"media_type after the data", `{"messages":[{"role":"user","content":[{"type":"image","source":{"data":"` + shot + `","media_type":"image/png","type":"base64"}}]}],"max_tokens":100}`, func(b string) int {
			return textOf(b, shot) + 600*600/750
		}},
		{"data key quoted inside a text", turnWith(t, map[string]any{"type": "text", "text": `{"data":"` + quoted + `"}`}), func(b string) int { return len(b) / 4 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := estimateInput([]byte(tc.body)), tc.want(tc.body); got != want {
				t.Errorf("estimate %d, want %d", got, want)
			}
		})
	}
}

// Through the gateway, a turn with a 1 MB screenshot asks the Pacer for
// its text and the image's few hundred tokens, not for 1 MB of text.
func TestPacerInputWithAnImage(t *testing.T) {
	up := newUpstream(t, okJSON)
	p := &fakePacer{}
	_, base := newTestGateway(t, up, Config{Pacer: p})
	shot := noisePNG(t, 600, 600)
	body := turnWith(t, imageBlock("image/png", shot))
	resp, _ := send(t, http.MethodPost, base+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", "", body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if len(p.reqs) != 1 {
		t.Fatalf("%d requests reached the Pacer", len(p.reqs))
	}
	if got, want := p.reqs[0].Input, (len(body)-len(shot))/4+600*600/750; got != want {
		t.Errorf("the Pacer was asked for %d input tokens, want %d (the text and a 600 × 600 image)", got, want)
	}
}
