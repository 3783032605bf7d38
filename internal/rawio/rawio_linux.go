//go:build linux

package rawio

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Conn is a TCP connection read and written with raw system calls. Read
// and Write may run at the same time, each from one goroutine at a time.
type Conn struct {
	net.Conn
	rc syscall.RawConn

	// Each direction's callback is made once: a closure per call would
	// allocate. It takes its buffer from, and leaves its outcome in,
	// these fields.
	rfn   func(uintptr) bool
	nowFn func(uintptr) bool
	rbuf  []byte
	rn    int
	rerr  syscall.Errno

	wfn  func(uintptr) bool
	wbuf []byte
	wn   int
	werr syscall.Errno
}

// Wrap returns c read and written with raw system calls when it is a TCP
// connection, and c itself otherwise (TLS, a pipe in a test).
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	rw := &Conn{Conn: c, rc: rc}
	rw.rfn, rw.nowFn, rw.wfn = rw.read, rw.readNow, rw.write
	return rw
}

func (c *Conn) Read(p []byte) (int, error) {
	return c.readWith(c.rfn, p) // waits in the poller while the socket is empty
}

// ReadNow makes one read that does not wait: it returns syscall.EAGAIN
// when the socket has nothing to read, and io.EOF when the peer closed.
func (c *Conn) ReadNow(p []byte) (int, error) { return c.readWith(c.nowFn, p) }

// readWith reads into p through the socket's RawConn with callback fn
// (read or readNow) and turns the outcome it left into Read's results.
func (c *Conn) readWith(fn func(uintptr) bool, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf = p
	err := c.rc.Read(fn)
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case c.rerr == syscall.EAGAIN:
		return 0, syscall.EAGAIN // ReadNow only: read waits instead
	case c.rerr != 0:
		return 0, os.NewSyscallError("read", c.rerr)
	case c.rn == 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

// read is Read's callback: one read, retried on EINTR; false (wait and
// call again) on EAGAIN.
func (c *Conn) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		if e == syscall.EINTR {
			continue
		}
		c.rn, c.rerr = int(n), e
		return e != syscall.EAGAIN
	}
}

func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wbuf, c.wn, c.werr = p, 0, 0
	err := c.rc.Write(c.wfn) // waits in the poller while the socket is full
	n, werr := c.wn, c.werr
	c.wbuf = nil
	if err == nil && werr != 0 {
		err = os.NewSyscallError("write", werr)
	}
	return n, err
}

// write is Write's callback: writes until all of c.wbuf is written or an
// error; false (wait and call again) when the socket is full.
func (c *Conn) write(fd uintptr) bool {
	for len(c.wbuf) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wbuf[0])), uintptr(len(c.wbuf)))
		switch e {
		case 0:
			c.wn += int(n)
			c.wbuf = c.wbuf[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werr = e
			return true
		}
	}
	return true
}

// iovMax is Linux's limit on the buffers of one writev (UIO_MAXIOV).
const iovMax = 1024

// Writev makes one writev of bufs on the non-blocking socket fd (retried on
// EINTR), of at most iovMax of them, and returns the bytes written; iov is
// scratch space, returned for reuse. A full socket gives syscall.EAGAIN.
func Writev(fd uintptr, bufs [][]byte, iov []syscall.Iovec) (int, []syscall.Iovec, error) {
	iov = iov[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(iov) == iovMax {
			break
		}
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	if len(iov) == 0 {
		return 0, iov, nil
	}
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		if e == syscall.EINTR {
			continue
		}
		clear(iov) // keep no buffer alive
		if e != 0 {
			return 0, iov, e
		}
		return int(n), iov, nil
	}
}

// Pwrite writes all of p at off in f, a regular file.
func Pwrite(f *os.File, p []byte, off int64) (int, error) {
	fd := f.Fd()
	done := 0
	for done < len(p) {
		n, _, e := syscall.RawSyscall6(syscall.SYS_PWRITE64, fd, uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done), uintptr(off+int64(done)), 0, 0)
		switch {
		case e == syscall.EINTR:
		case e != 0:
			return done, &os.PathError{Op: "write", Path: f.Name(), Err: e}
		case n == 0:
			return done, &os.PathError{Op: "write", Path: f.Name(), Err: io.ErrShortWrite}
		default:
			done += int(n)
		}
	}
	return done, nil
}

// SlowSync is how long a flush may take before Fdatasync stops making raw
// ones for SlowSyncBackoff: a raw flush that hangs on a failing disk would
// hold a P, and stall a garbage collection, for as long. The healthy
// virtual disk of bench/results took 0.1-8 ms under load, 28 ms at worst.
const (
	SlowSync        = 100 * time.Millisecond
	SlowSyncBackoff = 10 * time.Second
)

// rawSyncAfter is when Fdatasync may make raw calls again (unix ns).
var rawSyncAfter atomic.Int64

// Fdatasync flushes f's data and the metadata needed to read it.
func Fdatasync(f *os.File) error {
	fd := f.Fd()
	if runtime.GOMAXPROCS(0) < 2 || time.Now().UnixNano() < rawSyncAfter.Load() {
		return os.NewSyscallError("fdatasync", ignoringEINTR(func() error { return syscall.Fdatasync(int(fd)) }))
	}
	start := time.Now()
	var e syscall.Errno
	for {
		_, _, e = syscall.RawSyscall(syscall.SYS_FDATASYNC, fd, 0, 0)
		if e != syscall.EINTR {
			break
		}
	}
	if took := time.Since(start); took > SlowSync {
		rawSyncAfter.Store(time.Now().Add(SlowSyncBackoff).UnixNano())
	}
	if e != 0 {
		return os.NewSyscallError("fdatasync", e)
	}
	return nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != syscall.EINTR {
			return err
		}
	}
}

// readNow is ReadNow's callback: read's, done after one try.
func (c *Conn) readNow(fd uintptr) bool {
	c.read(fd)
	return true
}
