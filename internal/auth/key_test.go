package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/internal/testpg"
)

// TestSigningKey runs the signing key suite on every engine. Each test gets
// a function that opens one more handle on its own fresh database, the way
// another salon node would.
func TestSigningKey(t *testing.T) {
	places := []struct {
		name  string
		place func(t *testing.T) (dsn, dir string)
	}{
		{"sqlite", func(t *testing.T) (string, string) { return "", t.TempDir() }},
		{"postgres", func(t *testing.T) (string, string) { return testpg.Start(t), "" }},
	}
	for _, p := range places {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range signingKeySuite {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					dsn, dir := p.place(t)
					open := func() *db.DB { return openDB(t, dsn, dir) }
					first := open()
					if err := NewUsers(first, UsersOptions{}).Migrate(context.Background()); err != nil {
						t.Fatal(err)
					}
					tc.run(t, first, open)
				})
			}
		})
	}
}

var signingKeySuite = []struct {
	name string
	run  func(t *testing.T, d *db.DB, open func() *db.DB)
}{
	{"CreatesThenLoads", testKeyCreatesThenLoads},
	{"AdoptsLegacyFile", testKeyAdoptsLegacyFile},
	{"RefusesBadStoredKey", testKeyRefusesBadStoredKey},
	{"RefusesBadLegacyFile", testKeyRefusesBadLegacyFile},
	{"ConcurrentNodesAgree", testKeyConcurrentNodesAgree},
}

// writeKeyFile writes a key file as salon before the database key did.
func writeKeyFile(t *testing.T, path string, key []byte) {
	t.Helper()
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	key := make([]byte, KeySize)
	rand.Read(key)
	return key
}

// storedKeys returns the key column of every row in d, as stored.
func storedKeys(t *testing.T, d *db.DB) []string {
	t.Helper()
	rows, err := d.QueryContext(context.Background(), `SELECT key FROM signing_keys ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func testKeyCreatesThenLoads(t *testing.T, d *db.DB, open func() *db.DB) {
	ctx := context.Background()
	legacy := filepath.Join(t.TempDir(), "signing.key") // does not exist
	key, err := LoadOrCreateSigningKey(ctx, d, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize {
		t.Fatalf("len(key) = %d, want %d", len(key), KeySize)
	}
	if bytes.Equal(key, make([]byte, KeySize)) {
		t.Fatal("key is all zeros")
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Errorf("a key file appeared at %s (stat: %v); the key belongs in the database", legacy, err)
	}
	// Another node, with no legacy path at all, gets the same key.
	again, err := LoadOrCreateSigningKey(ctx, open(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, again) {
		t.Error("second call returned a different key")
	}
	if keys := storedKeys(t, d); len(keys) != 1 || keys[0] != hex.EncodeToString(key) {
		t.Errorf("signing_keys holds %d keys, want the one returned", len(keys))
	}
}

func testKeyAdoptsLegacyFile(t *testing.T, d *db.DB, open func() *db.DB) {
	ctx := context.Background()
	legacy := filepath.Join(t.TempDir(), "signing.key")
	old := randomKey(t)
	writeKeyFile(t, legacy, old)

	key, err := LoadOrCreateSigningKey(ctx, d, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, old) {
		t.Fatal("the key in the legacy file was not adopted: tokens issued before the upgrade would stop working")
	}
	if got, _ := os.ReadFile(legacy); !bytes.Equal(got, old) {
		t.Error("the legacy file was changed")
	}
	// Once the database holds a key, another node's own legacy file no
	// longer matters: the database is what the nodes share.
	other := filepath.Join(t.TempDir(), "signing.key")
	writeKeyFile(t, other, randomKey(t))
	got, err := LoadOrCreateSigningKey(ctx, open(), other)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, old) {
		t.Error("a second node's legacy file replaced the stored key")
	}
}

func testKeyRefusesBadStoredKey(t *testing.T, d *db.DB, _ func() *db.DB) {
	ctx := context.Background()
	for name, stored := range map[string]string{
		"not hex":    "too short",
		"short":      hex.EncodeToString([]byte("too short")),
		"long":       hex.EncodeToString(bytes.Repeat([]byte{1}, KeySize+1)),
		"empty":      "",
		"odd digits": hex.EncodeToString(randomKey(t))[1:],
	} {
		t.Run(name, func(t *testing.T) {
			// The cases take turns on one database.
			if _, err := d.ExecContext(ctx, `DELETE FROM signing_keys`); err != nil {
				t.Fatal(err)
			}
			if _, err := d.ExecContext(ctx, d.Rebind(
				`INSERT INTO signing_keys (id, key, created_at) VALUES (?, ?, ?)`), signingKeyID, stored, dbTime(newClock().Now())); err != nil {
				t.Fatal(err)
			}
			legacy := filepath.Join(t.TempDir(), "signing.key")
			writeKeyFile(t, legacy, randomKey(t))
			_, err := LoadOrCreateSigningKey(ctx, d, legacy)
			if err == nil {
				t.Fatalf("LoadOrCreateSigningKey accepted %q from the database", stored)
			}
			if !strings.Contains(err.Error(), "signing_keys") {
				t.Errorf("error %q does not say which key is wrong", err)
			}
			if keys := storedKeys(t, d); len(keys) != 1 || keys[0] != stored {
				t.Error("the bad stored key was replaced")
			}
		})
	}
}

func testKeyRefusesBadLegacyFile(t *testing.T, d *db.DB, _ func() *db.DB) {
	ctx := context.Background()
	for name, content := range map[string][]byte{
		"empty": {},
		"short": []byte("too short"),
		"long":  bytes.Repeat([]byte{1}, KeySize+1),
	} {
		t.Run(name, func(t *testing.T) {
			legacy := filepath.Join(t.TempDir(), "signing.key")
			writeKeyFile(t, legacy, content)
			_, err := LoadOrCreateSigningKey(ctx, d, legacy)
			if err == nil {
				t.Fatal("LoadOrCreateSigningKey accepted a bad key file")
			}
			if !strings.Contains(err.Error(), legacy) {
				t.Errorf("error %q does not name the file", err)
			}
			if got, _ := os.ReadFile(legacy); !bytes.Equal(got, content) {
				t.Error("the bad key file was overwritten")
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		if _, err := LoadOrCreateSigningKey(ctx, d, t.TempDir()); err == nil {
			t.Fatal("LoadOrCreateSigningKey accepted a directory as the key file")
		}
	})
	// A refused file must not leave a new key behind either: the operator
	// who restores the file then gets it adopted.
	if keys := storedKeys(t, d); len(keys) != 0 {
		t.Errorf("signing_keys holds %d keys after refusing every file, want none", len(keys))
	}
}

// testKeyConcurrentNodesAgree starts ten nodes on one database at once, as
// after an upgrade of a cluster: some bring a legacy file of their own,
// some none. All must come up with one key.
func testKeyConcurrentNodesAgree(t *testing.T, _ *db.DB, open func() *db.DB) {
	const n = 10
	handles := make([]*db.DB, n)
	legacy := make([]string, n)
	for i := range n {
		handles[i] = open()
		legacy[i] = filepath.Join(t.TempDir(), "signing.key")
		if i%2 == 0 {
			writeKeyFile(t, legacy[i], randomKey(t))
		}
	}
	keys := make([][]byte, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			keys[i], errs[i] = LoadOrCreateSigningKey(context.Background(), handles[i], legacy[i])
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("nodes 0 and %d got different keys", i)
		}
	}
	if stored := storedKeys(t, handles[0]); len(stored) != 1 || stored[0] != hex.EncodeToString(keys[0]) {
		t.Errorf("signing_keys holds %d keys, want the one every node got", len(stored))
	}
}
