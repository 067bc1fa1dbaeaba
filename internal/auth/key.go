package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySize is the length in bytes of the server key that signs tokens.
const KeySize = 32

// LoadOrCreateKey returns the server key stored at path. When the file does
// not exist it makes a new random key and writes it there (mode 0600, parent
// directory created with mode 0700), atomically so that a crash never leaves a
// half-written key behind. A file of the wrong length is an error: salon never
// silently replaces a key, because that would invalidate every token in flight.
func LoadOrCreateKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(key) != KeySize {
			return nil, fmt.Errorf("key file %s holds %d bytes, want %d: restore it from a backup or delete it to make a new key", path, len(key), KeySize)
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read key file: %w", err)
	}

	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make key: %w", err)
	}
	if err := writeFileAtomic(path, key); err != nil {
		return nil, err
	}
	// Another process may have won the race to create the file; the key on
	// disk is the one every process must use.
	onDisk, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if len(onDisk) != KeySize {
		return nil, fmt.Errorf("key file %s holds %d bytes, want %d", path, len(onDisk), KeySize)
	}
	return onDisk, nil
}

// writeFileAtomic writes data to a temporary file beside path and links it
// into place only if path does not exist yet, so concurrent creators agree on
// one key.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	// os.Link fails when path exists, unlike os.Rename which would replace
	// a key another process has just written. Filesystems without hard links
	// fall back to the rename.
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("install key file %s: %w", path, err)
	}
	return nil
}
