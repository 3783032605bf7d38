//go:build linux

package rawio

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Poller waits for many sockets at once from one goroutine: an epoll set,
// level-triggered, whose own descriptor waits in Go's poller. A goroutine
// in Wait holds no thread and no P while nothing is ready, as one blocked
// in a net.Conn's Read does; unlike a goroutine per socket, it then
// serves every ready socket in one pass, with no goroutine woken per
// request.
//
// A socket is named by a token, a number its owner chooses. Closing a
// socket takes it out of the set (the kernel does), so a token seen in
// Wait's answer may name a socket closed since: its owner looks the token
// up and ignores it.
type Poller struct {
	ep  int // the epoll set, valid until Close (under mu)
	f   *os.File
	rc  syscall.RawConn
	fn  func(uintptr) bool // wait's callback, made once
	evs []syscall.EpollEvent
	n   int
	err syscall.Errno

	mu       sync.Mutex // serializes control and Close
	closed   bool
	ctlFn    func(uintptr) // ctl's callback for a socket, made once
	ctlOp    int
	ctlEv    syscall.EpollEvent
	ctlErrno error
}

var noDeadline time.Time

// ErrNoPoller is NewPoller's error where the epoll set cannot wait in
// Go's poller.
var ErrNoPoller = errors.New("rawio: epoll descriptor is not pollable")

// NewPoller returns an empty set that reports up to batch sockets per Wait.
func NewPoller(batch int) (*Poller, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(ep, true); err != nil {
		syscall.Close(ep)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(ep), "epoll")
	// Only a descriptor in Go's poller takes deadlines: that is how to
	// tell that Wait will park in it rather than spin.
	if err := f.SetReadDeadline(noDeadline); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %v", ErrNoPoller, err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &Poller{ep: ep, f: f, rc: rc, evs: make([]syscall.EpollEvent, max(batch, 1))}
	p.fn = p.wait
	p.ctlFn = p.ctl
	return p, nil
}

// Wait blocks until at least one socket is ready to read, or has hung up,
// and returns the tokens of those that are, in tokens (reused). It fails
// with os.ErrClosed once the poller is closed.
func (p *Poller) Wait(tokens []uint64) ([]uint64, error) {
	tokens = tokens[:0]
	if err := p.rc.Read(p.fn); err != nil {
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return tokens, os.ErrClosed
		}
		return tokens, err
	}
	if p.err != 0 {
		return tokens, os.NewSyscallError("epoll_pwait", p.err)
	}
	for i := range p.n {
		tokens = append(tokens, eventToken(&p.evs[i]))
	}
	return tokens, nil
}

// wait is Wait's callback: one epoll_pwait that does not block; false
// (park in Go's poller and call again) when nothing is ready.
func (p *Poller) wait(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&p.evs[0])), uintptr(len(p.evs)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		p.n, p.err = int(n), e
		return e != 0 || n > 0
	}
}

// Add puts the socket of rc in the set, reported as token while it has
// bytes to read (or has hung up).
func (p *Poller) Add(rc syscall.RawConn, token uint64) error {
	return p.control(rc, syscall.EPOLL_CTL_ADD, token, syscall.EPOLLIN|syscall.EPOLLRDHUP)
}

// Pause stops reporting the socket until Resume; it stays in the set.
func (p *Poller) Pause(rc syscall.RawConn, token uint64) error {
	return p.control(rc, syscall.EPOLL_CTL_MOD, token, 0)
}

// Resume reports the socket again; bytes that arrived meanwhile make it
// ready at once.
func (p *Poller) Resume(rc syscall.RawConn, token uint64) error {
	return p.control(rc, syscall.EPOLL_CTL_MOD, token, syscall.EPOLLIN|syscall.EPOLLRDHUP)
}

// Remove takes the socket out of the set. A closed socket is out already.
func (p *Poller) Remove(rc syscall.RawConn) error {
	return p.control(rc, syscall.EPOLL_CTL_DEL, 0, 0)
}

// control makes one epoll_ctl for rc's socket. The callback and its
// arguments are fields, made once, under mu.
func (p *Poller) control(rc syscall.RawConn, op int, token uint64, events uint32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return os.ErrClosed
	}
	p.ctlOp = op
	p.ctlEv = syscall.EpollEvent{Events: events}
	setEventToken(&p.ctlEv, token)
	p.ctlErrno = nil
	if err := rc.Control(p.ctlFn); err != nil {
		return err
	}
	return p.ctlErrno
}

func (p *Poller) ctl(fd uintptr) {
	if err := syscall.EpollCtl(p.ep, p.ctlOp, int(fd), &p.ctlEv); err != nil {
		p.ctlErrno = os.NewSyscallError("epoll_ctl", err)
	}
}

// Close ends the set; a Wait in progress returns an error.
func (p *Poller) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.f.Close()
}

// eventToken and setEventToken keep a token in the 64-bit user data of an
// epoll event, which Go's syscall package splits into two int32 fields.
func eventToken(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

func setEventToken(ev *syscall.EpollEvent, token uint64) {
	ev.Fd = int32(uint32(token))
	ev.Pad = int32(uint32(token >> 32))
}
