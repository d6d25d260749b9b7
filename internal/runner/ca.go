package runner

import (
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// caPools reads each ca_file once, and again only when the file changes, so a
// round over a thousand seeds that share one CA does not read and parse it a
// thousand times, while a rotated CA is still picked up by a long-running daemon.
type caPools struct {
	mu sync.Mutex
	m  map[string]caEntry
}

type caEntry struct {
	mod  time.Time
	size int64
	pool *x509.CertPool
}

// get returns the pool of a PEM bundle; "" means the system roots (nil pool).
func (c *caPools) get(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[file]; ok && e.mod.Equal(fi.ModTime()) && e.size == fi.Size() {
		return e.pool, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	if c.m == nil {
		c.m = map[string]caEntry{}
	}
	c.m[file] = caEntry{mod: fi.ModTime(), size: fi.Size(), pool: pool}
	return pool, nil
}
