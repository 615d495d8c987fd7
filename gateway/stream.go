package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/claude-bedrock/claude-bedrock/governor"
)

// The AWS event-stream framing (application/vnd.amazon.eventstream): each
// message is a 12-byte prelude (total length, headers length, CRC-32 of the
// first 8 bytes), the headers, the payload and a CRC-32 of everything before
// it. All integers are big-endian.
const (
	preludeLen = 12
	// minMessage is a message with no headers and no payload.
	minMessage = preludeLen + 4
	// maxMessage is the largest message the format allows (16 MiB).
	maxMessage = 16 << 20
	// maxKept is the largest message the scanner copies to decode it. Usage
	// travels in small messages; a larger one (a long text delta) is
	// skipped, so the scanner's memory stays bounded whatever the answer.
	maxKept = 256 << 10
)

// frameScanner decodes event-stream messages from bytes fed to it in pieces
// of any size, as they come off the wire. It only ever reads a copy of the
// stream: whatever it finds, the bytes the client gets are not touched. At
// the first thing that is not a well-formed message it stops for good
// (broken), and the answer still passes through.
type frameScanner struct {
	buf    []byte // an incomplete message, or its prelude
	skip   int    // bytes of an oversized message still to skip
	broken bool
	// message is called for each whole message whose CRCs check out, with
	// its :message-type, :event-type (or :exception-type) and payload. The
	// slices are only valid during the call.
	message func(msgType, eventType string, payload []byte)
}

// Write feeds the next piece of the stream. It never fails: a malformed
// stream just stops the scan.
func (s *frameScanner) Write(p []byte) {
	for len(p) > 0 && !s.broken {
		if s.skip > 0 {
			n := min(s.skip, len(p))
			s.skip -= n
			p = p[n:]
			continue
		}
		if len(s.buf) == 0 {
			// The common case: whole messages in p, decoded in place.
			if len(p) < preludeLen {
				s.buf = append(s.buf, p...)
				return
			}
			total, ok := s.prelude(p)
			if !ok {
				return
			}
			if total > maxKept {
				s.skip = total
				continue
			}
			if total <= len(p) {
				s.decode(p[:total])
				p = p[total:]
				continue
			}
			s.buf = append(s.buf, p...)
			return
		}
		// Complete what is buffered: first the prelude, then the message.
		if len(s.buf) < preludeLen {
			n := min(preludeLen-len(s.buf), len(p))
			s.buf = append(s.buf, p[:n]...)
			p = p[n:]
			if len(s.buf) < preludeLen {
				return
			}
			total, ok := s.prelude(s.buf)
			if !ok {
				return
			}
			if total > maxKept {
				s.skip = total - len(s.buf)
				s.buf = s.buf[:0]
				continue
			}
		}
		total := int(binary.BigEndian.Uint32(s.buf))
		n := min(total-len(s.buf), len(p))
		s.buf = append(s.buf, p[:n]...)
		p = p[n:]
		if len(s.buf) == total {
			s.decode(s.buf)
			s.buf = s.buf[:0]
		}
	}
}

// prelude checks a message's first 12 bytes and returns its total length.
func (s *frameScanner) prelude(p []byte) (int, bool) {
	total := binary.BigEndian.Uint32(p)
	headers := binary.BigEndian.Uint32(p[4:])
	if total < minMessage || total > maxMessage || headers > total-minMessage ||
		crc32.ChecksumIEEE(p[:8]) != binary.BigEndian.Uint32(p[8:]) {
		s.broken = true
		return 0, false
	}
	return int(total), true
}

// decode checks one whole message's CRC and hands its parts on.
func (s *frameScanner) decode(m []byte) {
	end := len(m) - 4
	if crc32.ChecksumIEEE(m[:end]) != binary.BigEndian.Uint32(m[end:]) {
		s.broken = true
		return
	}
	hl := int(binary.BigEndian.Uint32(m[4:]))
	var msgType, eventType string
	h := m[preludeLen : preludeLen+hl]
	for len(h) > 0 {
		nl := int(h[0])
		if len(h) < 1+nl+1 {
			s.broken = true
			return
		}
		name := h[1 : 1+nl]
		typ := h[1+nl]
		h = h[2+nl:]
		var size int
		switch typ {
		case 0, 1: // bool true, false
		case 2: // byte
			size = 1
		case 3: // short
			size = 2
		case 4: // int
			size = 4
		case 5, 8: // long, timestamp
			size = 8
		case 9: // uuid
			size = 16
		case 6, 7: // bytes, string: a 2-byte length first
			if len(h) < 2 {
				s.broken = true
				return
			}
			vl := int(binary.BigEndian.Uint16(h))
			if len(h) < 2+vl {
				s.broken = true
				return
			}
			if typ == 7 {
				switch string(name) {
				case ":message-type":
					msgType = string(h[2 : 2+vl])
				case ":event-type", ":exception-type":
					eventType = string(h[2 : 2+vl])
				}
			}
			h = h[2+vl:]
			continue
		default:
			s.broken = true
			return
		}
		if len(h) < size {
			s.broken = true
			return
		}
		h = h[size:]
	}
	if s.message != nil {
		s.message(msgType, eventType, m[preludeLen+hl:end])
	}
}

// apiUsage is the usage object of Anthropic's Messages API, in message_start
// (under message), message_delta and a non-streamed answer.
type apiUsage struct {
	Input      int `json:"input_tokens"`
	CacheWrite int `json:"cache_creation_input_tokens"`
	CacheRead  int `json:"cache_read_input_tokens"`
	Output     int `json:"output_tokens"`
}

// invocationMetrics is what Bedrock adds to a streamed answer's last event:
// its own count, the one the quota is metered with.
type invocationMetrics struct {
	Input      int `json:"inputTokenCount"`
	Output     int `json:"outputTokenCount"`
	CacheRead  int `json:"cacheReadInputTokenCount"`
	CacheWrite int `json:"cacheWriteInputTokenCount"`
}

// anthropicEvent holds the parts of an Anthropic streaming event (or a whole
// non-streamed answer) that carry token counts.
type anthropicEvent struct {
	Type    string `json:"type"`
	Message *struct {
		Usage *apiUsage `json:"usage"`
	} `json:"message"`
	Usage   *apiUsage          `json:"usage"`
	Metrics *invocationMetrics `json:"amazon-bedrock-invocationMetrics"`
}

// meter gathers one answer's token counts as they pass.
type meter struct {
	usage governor.Usage
	// started is called once, with input + cache writes (what the quota
	// counts of the input), when message_start arrives.
	started  func(input int)
	sawStart bool
}

// takeMax keeps the larger of two counts: later events repeat or grow the
// counts, never shrink them, and a 0 means "not said here".
func takeMax(dst *int, v int) {
	if v > *dst {
		*dst = v
	}
}

func (m *meter) api(u *apiUsage) {
	takeMax(&m.usage.Input, u.Input)
	takeMax(&m.usage.CacheWrite, u.CacheWrite)
	takeMax(&m.usage.CacheRead, u.CacheRead)
	takeMax(&m.usage.Output, u.Output)
}

// event reads one Anthropic event (or a non-streamed answer's JSON).
func (m *meter) event(js []byte) {
	// Most events are text deltas with no counts: skip them without
	// decoding. A delta whose text happens to contain these words is only
	// decoded for nothing.
	if !bytes.Contains(js, []byte(`"usage"`)) && !bytes.Contains(js, []byte(`invocationMetrics"`)) {
		return
	}
	var ev anthropicEvent
	if json.Unmarshal(js, &ev) != nil {
		return
	}
	if ev.Message != nil && ev.Message.Usage != nil {
		m.api(ev.Message.Usage)
	}
	if ev.Usage != nil {
		m.api(ev.Usage)
	}
	if x := ev.Metrics; x != nil {
		takeMax(&m.usage.Input, x.Input)
		takeMax(&m.usage.Output, x.Output)
		takeMax(&m.usage.CacheRead, x.CacheRead)
		takeMax(&m.usage.CacheWrite, x.CacheWrite)
	}
	if ev.Type == "message_start" && !m.sawStart {
		m.sawStart = true
		if m.started != nil {
			m.started(m.usage.Input + m.usage.CacheWrite)
		}
	}
}

// chunk reads one event-stream message of a streamed answer: a chunk event's
// payload is {"bytes": "<base64 of an Anthropic event>"} (Bedrock may add
// other fields, such as padding).
func (m *meter) chunk(msgType, eventType string, payload []byte) {
	if msgType != "event" || eventType != "chunk" {
		return
	}
	b64, ok := bytesField(payload)
	if !ok {
		var c struct {
			Bytes []byte `json:"bytes"`
		}
		if json.Unmarshal(payload, &c) == nil {
			m.event(c.Bytes)
		}
		return
	}
	// Most of an answer is content-block events (text deltas), which carry
	// no counts: tell them from the first 30 bytes, as Bedrock writes
	// "type" first. Decoding every chunk whole would cost several times
	// what the proxy itself costs per MB.
	var head [30]byte
	if len(b64) >= 40 {
		if n, err := base64.StdEncoding.Decode(head[:], b64[:40]); err == nil && bytes.HasPrefix(head[:n], blockEvent) {
			return
		}
	}
	ev := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(ev, b64)
	if err == nil {
		m.event(ev[:n])
	}
}

// blockEvent is how content_block_start, _delta and _stop events begin.
var blockEvent = []byte(`{"type":"content_block_`)

// bytesField finds the base64 text of a chunk payload's "bytes" field
// without a JSON decoder. It answers false when the payload is laid out in a
// way it does not expect (an escape in the string, say): then the caller
// decodes the JSON.
func bytesField(payload []byte) ([]byte, bool) {
	const key = `"bytes":"`
	i := bytes.Index(payload, []byte(key))
	if i < 0 {
		return nil, false
	}
	rest := payload[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return nil, false
	}
	return rest[:j], true
}

// headers reads the token counts Bedrock puts in the headers of a
// non-streamed answer.
func (m *meter) headers(h http.Header) {
	for name, dst := range map[string]*int{
		"X-Amzn-Bedrock-Input-Token-Count":             &m.usage.Input,
		"X-Amzn-Bedrock-Output-Token-Count":            &m.usage.Output,
		"X-Amzn-Bedrock-Cache-Read-Input-Token-Count":  &m.usage.CacheRead,
		"X-Amzn-Bedrock-Cache-Write-Input-Token-Count": &m.usage.CacheWrite,
	} {
		if n, err := strconv.Atoi(h.Get(name)); err == nil {
			takeMax(dst, n)
		}
	}
}

// maxJSONAnswer bounds the copy of a non-streamed answer kept to read its
// usage; a larger answer passes through all the same, counted by its headers
// only.
const maxJSONAnswer = 8 << 20

// meteredBody passes an answer through unchanged and reads its token counts
// from a copy on the side. For an event stream, the bytes of each read are
// decoded at the start of the next read (or at Close), that is after the
// proxy has written them to the client: the scan adds no delay before a chunk
// reaches claude.
type meteredBody struct {
	rc      io.ReadCloser
	m       *meter
	scan    *frameScanner // nil for a JSON answer
	json    []byte        // the JSON answer so far, until it outgrows maxJSONAnswer
	jsonOff bool
	pending *[]byte // the last read's bytes, not scanned yet
	// eof is set when the upstream sent the whole answer; failed when the
	// read broke off (the upstream or the client went away).
	eof, failed bool
	closed      bool
}

func newMeteredBody(rc io.ReadCloser, m *meter, stream bool) *meteredBody {
	b := &meteredBody{rc: rc, m: m}
	if stream {
		b.scan = &frameScanner{message: m.chunk}
	}
	return b
}

func (b *meteredBody) Read(p []byte) (int, error) {
	b.flush()
	n, err := b.rc.Read(p)
	if n > 0 {
		if b.scan != nil {
			if b.pending == nil {
				b.pending = pendingPool.Get().(*[]byte)
			}
			*b.pending = append((*b.pending)[:0], p[:n]...)
		} else if !b.jsonOff {
			if len(b.json)+n > maxJSONAnswer {
				b.json, b.jsonOff = nil, true
			} else {
				b.json = append(b.json, p[:n]...)
			}
		}
	}
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.failed = true
	}
	return n, err
}

// pendingPool holds the copies of the last read of each stream. A copy is
// only held from a read to the next, and a stream spends most of its time
// waiting for its next chunk: pooled, a few serve hundreds of streams.
var pendingPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// flush scans the bytes of the previous read.
func (b *meteredBody) flush() {
	if b.pending != nil {
		b.scan.Write(*b.pending)
		*b.pending = (*b.pending)[:0]
		pendingPool.Put(b.pending)
		b.pending = nil
	}
}

// Close scans what is left and closes the upstream body.
func (b *meteredBody) Close() error {
	if !b.closed {
		b.closed = true
		if b.scan != nil {
			b.flush()
		} else if b.eof && !b.jsonOff {
			b.m.event(b.json)
		}
	}
	return b.rc.Close()
}
