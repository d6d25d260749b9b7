package lab

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// listener is a loopback listener that keeps the connections it accepted, so
// that Close can end them and then wait until the server has let go of each.
// Neither go-smtp nor imapserver waits for its connection goroutines when it is
// closed; both close a connection as the last thing its goroutine does, which
// is what conn.Close reports back here.
type listener struct {
	net.Listener

	mu       sync.Mutex
	conns    map[*conn]struct{}
	closed   bool
	accepted int            // connections accepted so far
	wg       sync.WaitGroup // one count per accepted connection not yet closed by its server
}

// listen opens a listener on 127.0.0.1 with a free port.
func listen() (*listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	return &listener{Listener: ln, conns: map[*conn]struct{}{}}, nil
}

// Accept returns the next connection, tracked until its server closes it.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &conn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	l.accepted++
	l.wg.Add(1)
	return tc, nil
}

// Close stops accepting and ends every open connection under its server's
// feet; the server sees a read error and returns. Later calls do nothing.
func (l *listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.Listener.Close()
	for c := range l.conns {
		c.Conn.Close() // not c.Close: that is the server's own "done" signal
	}
	return err
}

// cut ends every open connection as a dropped network would, and keeps
// accepting new ones. It returns how many it cut.
func (l *listener) cut() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Conn.Close() // the server notices, closes its side and releases it
	}
	return len(l.conns)
}

func (l *listener) acceptedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

// wait blocks until the server has closed every connection it was given, or
// timeout passes, which would mean a server goroutine is stuck.
func (l *listener) wait(timeout time.Duration) error {
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return errors.New("connections still open " + timeout.String() + " after close")
	}
}

func (l *listener) release(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	l.wg.Done()
}

// conn is an accepted connection that tells its listener when the server
// closes it.
type conn struct {
	net.Conn
	l    *listener
	once sync.Once
}

// Close closes the connection and, the first time, releases it.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}
