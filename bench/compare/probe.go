package compare

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Opcodes and sizes of the client protocol used by Probe (zk/ZooDefs.java).
const (
	opGetData      = 4
	opSetData      = 5
	opCloseSession = -11
	maxProbeFrame  = 1 << 20
)

// Probe opens a session on addr, reads path with getData and closes the
// session: nil means the server served a request. It speaks the protocol
// directly (connect request, one getData, closeSession) so that a probe
// costs a few hundred microseconds of client CPU and no goroutines, which
// matters when it is repeated every few milliseconds while a server starts.
func Probe(ctx context.Context, addr, path string) error {
	return probe(ctx, addr, path, false)
}

// ProbeWrite is Probe with a setData of path (any version, empty value)
// instead of the getData: nil means the server committed a write.
func ProbeWrite(ctx context.Context, addr, path string) error {
	return probe(ctx, addr, path, true)
}

func probe(ctx context.Context, addr, path string, write bool) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)

	// ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId,
	// passwd (16 zero bytes), readOnly.
	var req []byte
	req = binary.BigEndian.AppendUint32(req, 0)
	req = binary.BigEndian.AppendUint64(req, 0)
	req = binary.BigEndian.AppendUint32(req, 30000)
	req = binary.BigEndian.AppendUint64(req, 0)
	req = binary.BigEndian.AppendUint32(req, 16)
	req = append(req, make([]byte, 16)...)
	req = append(req, 0)
	if err := writeFrame(conn, req); err != nil {
		return fmt.Errorf("connect request: %w", err)
	}
	resp, err := readFrame(conn)
	if err != nil {
		return fmt.Errorf("connect response: %w", err)
	}
	// ConnectResponse: protocolVersion, timeOut, sessionId, passwd.
	if len(resp) < 16 {
		return fmt.Errorf("connect response of %d bytes", len(resp))
	}
	if timeout, sid := binary.BigEndian.Uint32(resp[4:]), binary.BigEndian.Uint64(resp[8:]); timeout == 0 || sid == 0 {
		return errors.New("session refused")
	}

	// RequestHeader (xid, type) + GetDataRequest (path, watch) or
	// SetDataRequest (path, data, version).
	name := "getData"
	req = req[:0]
	req = binary.BigEndian.AppendUint32(req, 1)
	if write {
		name = "setData"
		minusOne := int32(-1)
		req = binary.BigEndian.AppendUint32(req, opSetData)
		req = binary.BigEndian.AppendUint32(req, uint32(len(path)))
		req = append(req, path...)
		req = binary.BigEndian.AppendUint32(req, 0)
		req = binary.BigEndian.AppendUint32(req, uint32(minusOne))
	} else {
		req = binary.BigEndian.AppendUint32(req, opGetData)
		req = binary.BigEndian.AppendUint32(req, uint32(len(path)))
		req = append(req, path...)
		req = append(req, 0)
	}
	if err := writeFrame(conn, req); err != nil {
		return fmt.Errorf("%s request: %w", name, err)
	}
	for {
		resp, err = readFrame(conn)
		if err != nil {
			return fmt.Errorf("%s response: %w", name, err)
		}
		// ReplyHeader: xid, zxid, err. Skip pings and notifications.
		if len(resp) < 16 {
			return fmt.Errorf("reply of %d bytes", len(resp))
		}
		if int32(binary.BigEndian.Uint32(resp)) == 1 {
			break
		}
	}
	if code := int32(binary.BigEndian.Uint32(resp[12:])); code != 0 {
		return fmt.Errorf("%s %s: error code %d", name, path, code)
	}
	req = req[:0]
	req = binary.BigEndian.AppendUint32(req, 2)
	closeOp := int32(opCloseSession)
	req = binary.BigEndian.AppendUint32(req, uint32(closeOp))
	_ = writeFrame(conn, req)
	_, _ = readFrame(conn) // the close reply; the session is gone either way
	return nil
}

func writeFrame(w io.Writer, payload []byte) error {
	b := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(len(payload)))
	_, err := w.Write(append(b, payload...))
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxProbeFrame {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// WaitServed probes addr every interval until a getData of path succeeds
// and returns the time since start; it gives up when ctx ends or alive
// reports the server process gone.
func WaitServed(ctx context.Context, addr, path string, start time.Time, interval time.Duration, alive func() bool) (time.Duration, error) {
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := Probe(pctx, addr, path)
		cancel()
		if err == nil {
			return time.Since(start), nil
		}
		last = err
		if alive != nil && !alive() {
			return 0, fmt.Errorf("server exited before serving (last probe: %w)", last)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("not served: %w (last probe: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}
