package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// DefaultMaxBuffer is jute.maxbuffer's default: 0xfffff bytes of payload.
const DefaultMaxBuffer = 0xfffff

// ErrShort is returned when a record needs more bytes than the frame holds.
var ErrShort = errors.New("jute: record truncated")

// Encoder appends jute-encoded values to a byte slice.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an Encoder that appends to buf, keeping its contents
// (callers reserve the 4-byte frame length this way).
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Bytes returns the encoded bytes.
func (e *Encoder) Bytes() []byte { return e.buf }

// Reset empties the encoder, keeping its storage.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// Len returns the number of bytes encoded so far.
func (e *Encoder) Len() int { return len(e.buf) }

// Int encodes a jute int (4 bytes, big-endian).
func (e *Encoder) Int(v int32) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v)) }

// Long encodes a jute long (8 bytes, big-endian).
func (e *Encoder) Long(v int64) { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v)) }

// Bool encodes a jute boolean as one byte.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// Byte encodes one raw byte.
func (e *Encoder) Byte(v byte) { e.buf = append(e.buf, v) }

// String encodes a jute ustring (length + UTF-8).
func (e *Encoder) String(s string) {
	e.Int(int32(len(s)))
	e.buf = append(e.buf, s...)
}

// NullString encodes a null ustring (length -1).
func (e *Encoder) NullString() { e.Int(-1) }

// Buffer encodes a jute buffer; a nil slice is encoded as null (-1).
func (e *Encoder) Buffer(b []byte) {
	if b == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(b)))
	e.buf = append(e.buf, b...)
}

// Strings encodes a vector<ustring>; nil is encoded as null (-1).
func (e *Encoder) Strings(v []string) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for _, s := range v {
		e.String(s)
	}
}

// Raw appends raw bytes.
func (e *Encoder) Raw(b []byte) { e.buf = append(e.buf, b...) }

// Decoder reads jute-encoded values from a byte slice. Its error is sticky.
type Decoder struct {
	b   []byte
	off int
	err error
}

// NewDecoder returns a Decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Reset makes d a fresh Decoder over b (one Decoder reused for many
// frames allocates nothing per frame).
func (d *Decoder) Reset(b []byte) { *d = Decoder{b: b} }

// Err returns the first decoding error.
func (d *Decoder) Err() error { return d.err }

// Remaining returns the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.b) - d.off }

// Offset returns the number of bytes read so far.
func (d *Decoder) Offset() int { return d.off }

// Rest returns the unread bytes.
func (d *Decoder) Rest() []byte { return d.b[d.off:] }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail(ErrShort)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

// Int decodes a jute int.
func (d *Decoder) Int() int32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

// Long decodes a jute long.
func (d *Decoder) Long() int64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

// Bool decodes a jute boolean.
func (d *Decoder) Bool() bool {
	p := d.take(1)
	return p != nil && p[0] != 0
}

// Byte decodes one raw byte.
func (d *Decoder) Byte() byte {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *Decoder) length() int {
	n := d.Int()
	if d.err != nil {
		return -1
	}
	if n < -1 {
		d.fail(fmt.Errorf("jute: negative length %d", n))
		return -1
	}
	if int(n) > len(d.b)-d.off {
		d.fail(ErrShort)
		return -1
	}
	return int(n)
}

// String decodes a jute ustring; null decodes as "".
func (d *Decoder) String() string {
	s, _ := d.NullableString()
	return s
}

// NullableString decodes a ustring and reports whether it was non-null.
func (d *Decoder) NullableString() (string, bool) {
	n := d.length()
	if n < 0 {
		return "", false
	}
	return string(d.take(n)), true
}

// knownString decodes a ustring (null as ""), returning the element of
// known it equals, if any, instead of a new string.
func (d *Decoder) knownString(known []string) string {
	n := d.length()
	if n < 0 {
		return ""
	}
	b := d.take(n)
	for _, k := range known {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

// Buffer decodes a jute buffer; null decodes as nil. The result is a copy.
func (d *Decoder) Buffer() []byte {
	n := d.length()
	if n < 0 {
		return nil
	}
	p := d.take(n)
	out := make([]byte, n)
	copy(out, p)
	return out
}

// Strings decodes a vector<ustring>; null decodes as nil.
func (d *Decoder) Strings() []string {
	n := d.length()
	if n < 0 {
		return nil
	}
	// Every element takes at least 4 bytes: bound the allocation by the frame.
	if n > d.Remaining()/4 {
		d.fail(ErrShort)
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}

// VectorLen decodes a vector count, bounding it by the bytes left assuming
// each element takes at least minSize bytes. Null (-1) gives -1.
func (d *Decoder) VectorLen(minSize int) int {
	n := d.Int()
	if d.err != nil {
		return -1
	}
	if n < -1 {
		d.fail(fmt.Errorf("jute: negative length %d", n))
		return -1
	}
	if minSize > 0 && int(n) > d.Remaining()/minSize {
		d.fail(ErrShort)
		return -1
	}
	return int(n)
}

// Record is a jute record.
type Record interface {
	Encode(e *Encoder)
	Decode(d *Decoder)
}

// Marshal encodes a record into a fresh slice.
func Marshal(r Record) []byte {
	e := NewEncoder(nil)
	r.Encode(e)
	return e.Bytes()
}

// Unmarshal decodes b into r; trailing bytes are allowed as in Apache.
func Unmarshal(b []byte, r Record) error {
	d := NewDecoder(b)
	r.Decode(d)
	return d.Err()
}
