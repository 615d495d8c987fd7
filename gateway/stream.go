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
	message func(msgType, eventType, payload []byte)
	// drop, when set, is asked first whether a message can be dropped
	// unread, before its CRC is computed: most of an answer is messages
	// that carry no counts, and their CRCs would cost more than the rest of
	// the scan. (The prelude's CRC is still checked: the framing holds.)
	drop func(msgType, eventType, payload []byte) bool
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

// decode reads one whole message's headers, and hands its parts on once its
// CRC checks out, unless drop drops it first.
func (s *frameScanner) decode(m []byte) {
	end := len(m) - 4
	hl := int(binary.BigEndian.Uint32(m[4:]))
	var msgType, eventType []byte
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
					msgType = h[2 : 2+vl]
				case ":event-type", ":exception-type":
					eventType = h[2 : 2+vl]
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
	payload := m[preludeLen+hl : end]
	if s.drop != nil && s.drop(msgType, eventType, payload) {
		return
	}
	if crc32.ChecksumIEEE(m[:end]) != binary.BigEndian.Uint32(m[end:]) {
		s.broken = true
		return
	}
	if s.message != nil {
		s.message(msgType, eventType, payload)
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
	// deltas is the size of the content_block_delta events streamed (their
	// JSON, less the wrapping of a text delta): what an answer cut before
	// its final counts had written.
	deltas int
	// exception is the :exception-type of an exception message in the
	// stream ("throttlingException"), "" when none came.
	exception string
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

// skipChunk says whether a message of a streamed answer carries no counts:
// a content-block event (most of an answer: text deltas), told from the
// first characters of its base64 without decoding anything, since Bedrock
// writes "type" first. Decoding every chunk whole would cost several times
// what the proxy itself costs per MB. The size of the deltas is kept.
func (m *meter) skipChunk(msgType, eventType, payload []byte) bool {
	if string(msgType) != "event" || string(eventType) != "chunk" {
		return false
	}
	b64, ok := bytesField(payload)
	if !ok || !bytes.HasPrefix(b64, blockEvent64) {
		return false
	}
	if bytes.HasPrefix(b64, deltaEvent64) {
		m.deltas += max(len(b64)/4*3-len(deltaWrapping), 0)
	}
	return true
}

// chunk reads one event-stream message of a streamed answer: a chunk event's
// payload is {"bytes": "<base64 of an Anthropic event>"} (Bedrock may add
// other fields, such as padding); an exception message ends the answer
// early, inside a 200 (throttlingException, modelStreamErrorException, …).
func (m *meter) chunk(msgType, eventType, payload []byte) {
	if string(msgType) == "exception" {
		if m.exception == "" {
			m.exception = string(eventType)
		}
		return
	}
	if string(msgType) != "event" || string(eventType) != "chunk" || m.skipChunk(msgType, eventType, payload) {
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
	ev := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(ev, b64)
	if err != nil {
		return
	}
	if bytes.Contains(ev[:n], []byte(`"type":"content_block_delta"`)) { // a delta laid out otherwise
		m.deltas += max(n-len(deltaWrapping), 0)
		return
	}
	m.event(ev[:n])
}

// blockEvent64 and deltaEvent64 are how the base64 of content_block_start,
// _delta and _stop events, and of _delta events, begin: the encoding of
// whole 3-byte groups of {"type":"content_block_ and {"type":"content_block_delta".
var (
	blockEvent64 = b64Prefix(`{"type":"content_block_`)
	deltaEvent64 = b64Prefix(`{"type":"content_block_delta"`)
)

// deltaWrapping is the JSON around a text delta's text.
const deltaWrapping = `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}`

// b64Prefix is the base64 every text starting with s starts with.
func b64Prefix(s string) []byte {
	return []byte(base64.StdEncoding.EncodeToString([]byte(s[:len(s)/3*3])))
}

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

// meteredBody passes a JSON answer through unchanged and reads its token
// counts from a copy, once it has been read whole.
type meteredBody struct {
	rc      io.ReadCloser
	m       *meter
	json    []byte // the answer so far, until it outgrows maxJSONAnswer
	jsonOff bool
	// eof is set when the upstream sent the whole answer.
	eof    bool
	closed bool
}

func (b *meteredBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 && !b.jsonOff {
		if len(b.json)+n > maxJSONAnswer {
			b.json, b.jsonOff = nil, true
		} else {
			b.json = append(b.json, p[:n]...)
		}
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// Close closes the upstream body; a whole answer is read then.
func (b *meteredBody) Close() error {
	if !b.closed {
		b.closed = true
		if b.eof && !b.jsonOff {
			b.m.event(b.json)
		}
	}
	return b.rc.Close()
}

// Buffers of the event-stream copy. An answer from Bedrock comes a chunk
// at a time (a few hundred bytes, tens of milliseconds apart), and a
// stream spends most of its life waiting for the next one: it waits with a
// small buffer, and borrows a large one only while the answer comes faster
// than one small buffer per read, so that hundreds of streams waiting cost
// little and a bulk answer is copied in as few reads and writes as a plain
// reverse proxy's.
const (
	smallBufferSize = 4 << 10
	copyBufferSize  = 32 << 10
)

var (
	smallBufferPool = sync.Pool{New: func() any { b := make([]byte, smallBufferSize); return &b }}
	copyBufferPool  = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}
)

// eventStream is a streamed answer being copied to claude.
type eventStream struct {
	body io.ReadCloser
	scan frameScanner
	// eof is set when the upstream sent the whole answer.
	eof bool
}

func newEventStream(body io.ReadCloser, m *meter) *eventStream {
	return &eventStream{body: body, scan: frameScanner{message: m.chunk, drop: m.skipChunk}}
}

// copyTo copies the answer to w byte for byte, flushing each read, and
// scans each read's bytes for the counts once they are on their way to
// claude: the scan adds no delay before a chunk reaches claude. Bytes that
// cannot be written are not scanned: claude never got them. When either
// side fails the handler is aborted (http.ErrAbortHandler), as
// httputil.ReverseProxy aborts it: claude must see a cut answer as cut,
// not as a short whole one.
func (s *eventStream) copyTo(w http.ResponseWriter) {
	defer s.body.Close()
	rc := http.NewResponseController(w)
	if rc.Flush() != nil { // the headers go at once
		panic(http.ErrAbortHandler)
	}
	small := smallBufferPool.Get().(*[]byte)
	defer smallBufferPool.Put(small)
	var big *[]byte
	defer func() {
		if big != nil {
			copyBufferPool.Put(big)
		}
	}()
	buf := *small
	for {
		n, err := s.body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil || rc.Flush() != nil {
				panic(http.ErrAbortHandler)
			}
			s.scan.Write(buf[:n])
		}
		if err == io.EOF {
			s.eof = true
			return
		}
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		switch {
		case n == len(buf) && big == nil: // more is waiting: a large buffer
			big = copyBufferPool.Get().(*[]byte)
			buf = *big
		case n < smallBufferSize && big != nil: // a chunk at a time again
			copyBufferPool.Put(big)
			big, buf = nil, *small
		}
	}
}
