package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
)

// The token file is one JSON document holding, for each account (a seed or a
// path, keyed "seeds.NAME" or "paths.NAME"), its refresh token, its current
// access token and what `mailflow auth status` shows. It is written only
// whole, to a temporary file in the same directory that is then renamed over
// it, so a reader never sees half a file and a crash never leaves one. It is
// created with mode 0600 and refused when others may read it.
//
// Writers re-read the file under a lock (an flock of FILE.lock where the
// system has it) and change only their own account, so that the daemon
// rotating one seed's token and `mailflow auth login` of another do not undo
// each other.

// maxTokenFile bounds what is read of a token file.
const maxTokenFile = 4 << 20

// File is a token file.
type File struct {
	path string
	mu   sync.Mutex // one writer per process; the lock file orders processes
}

// OpenFile returns the token file at path. Nothing is read or created until
// it is used.
func OpenFile(path string) *File { return &File{path: path} }

// Path returns where the file is.
func (f *File) Path() string { return f.path }

// document is the file's content.
type document struct {
	Version  int               `json:"version"`
	Accounts map[string]*entry `json:"accounts"`
}

// entry is one account in the file. It holds tokens: it never leaves the
// package, and Status is what others see of it.
type entry struct {
	Provider     string       `json:"provider,omitempty"`
	RefreshToken string       `json:"refresh_token,omitempty"`
	AccessToken  string       `json:"access_token,omitempty"`
	TokenType    string       `json:"token_type,omitempty"`
	Expiry       time.Time    `json:"expiry,omitzero"`
	Scopes       []string     `json:"scopes,omitempty"`
	LoggedIn     time.Time    `json:"logged_in,omitzero"`
	LastRefresh  time.Time    `json:"last_refresh,omitzero"`
	Refreshes    int          `json:"refreshes,omitempty"`
	LastError    *ErrorRecord `json:"last_error,omitempty"`
}

// ErrorRecord is the last failure of an account, as the token file keeps it.
type ErrorRecord struct {
	At          time.Time `json:"at"`
	Op          string    `json:"op"`
	Code        string    `json:"code,omitempty"`
	Description string    `json:"description,omitempty"`
	Message     string    `json:"message"` // the whole Error text
}

// Status is what the token file says about one account, without its tokens.
type Status struct {
	Name     string // "seeds.gmail-1"
	Provider string
	// LoggedIn is whether the file holds a refresh token.
	LoggedIn bool
	// LoginAt is when `mailflow auth login` last stored one.
	LoginAt time.Time
	// ValidUntil is the expiry of the current access token (zero when none).
	ValidUntil  time.Time
	Scopes      []string
	LastRefresh time.Time
	Refreshes   int
	LastError   *ErrorRecord
}

func (e *entry) status(name string) Status {
	s := Status{Name: name, Provider: e.Provider, LoggedIn: e.RefreshToken != "", LoginAt: e.LoggedIn,
		Scopes: slices.Clone(e.Scopes), LastRefresh: e.LastRefresh, Refreshes: e.Refreshes, LastError: e.LastError}
	if e.AccessToken != "" {
		s.ValidUntil = e.Expiry
	}
	return s
}

// Status returns what the file says about the account name; ok is false when
// the file does not mention it.
func (f *File) Status(name string) (s Status, ok bool, err error) {
	doc, err := f.read()
	if err != nil {
		return Status{}, false, err
	}
	e := doc.Accounts[name]
	if e == nil {
		return Status{Name: name}, false, nil
	}
	return e.status(name), true, nil
}

// get returns a copy of the account's entry, or nil.
func (f *File) get(name string) (*entry, error) {
	doc, err := f.read()
	if err != nil || doc.Accounts[name] == nil {
		return nil, err
	}
	e := *doc.Accounts[name]
	return &e, nil
}

// update changes the account's entry (creating it) and writes the file.
func (f *File) update(name string, change func(e *entry)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	unlock, err := lockFile(f.path + ".lock")
	if err != nil {
		return fmt.Errorf("token file %s: lock: %w", f.path, err)
	}
	defer unlock()
	doc, err := f.read()
	if err != nil {
		return err
	}
	e := doc.Accounts[name]
	if e == nil {
		e = &entry{}
		doc.Accounts[name] = e
	}
	change(e)
	return f.write(doc)
}

// read reads the whole file; a file that does not exist is empty.
func (f *File) read() (*document, error) {
	doc := &document{Version: 1, Accounts: map[string]*entry{}}
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer fh.Close()
	if err := checkMode(fh); err != nil {
		return nil, fmt.Errorf("token file %s: %w", f.path, err)
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenFile+1))
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", f.path, err)
	}
	if len(b) > maxTokenFile {
		return nil, fmt.Errorf("token file %s is larger than %d MiB", f.path, maxTokenFile>>20)
	}
	if err := json.Unmarshal(b, doc); err != nil {
		// Not the decoder's words: they may quote the file, tokens included.
		return nil, fmt.Errorf("token file %s is not a mailflow token file (move it away and run mailflow auth login again)", f.path)
	}
	if doc.Accounts == nil {
		doc.Accounts = map[string]*entry{}
	}
	return doc, nil
}

// checkMode refuses a token file that others than its owner may read or write.
func checkMode(fh *os.File) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("mode %04o lets others read the tokens (chmod 600 %s)", m, fh.Name())
	}
	return nil
}

// write replaces the file atomically: a temporary file of mode 0600 in the
// same directory, synced, then renamed over the old one.
func (f *File) write(doc *document) error {
	dir := filepath.Dir(f.path)
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(append(b, '\n'))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err != nil {
		return fmt.Errorf("token file %s: %w", f.path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
