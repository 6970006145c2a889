package dataplane

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestHashIsFullSHA256: staging folders and the pods' hash annotations are
// keyed by Hash, so it must not be a cut (and so collidable) digest.
func TestHashIsFullSHA256(t *testing.T) {
	h := Hash(map[string][]byte{"nginx.conf": []byte("events {}\n")})
	if len(h) != hex.EncodedLen(sha256.Size) {
		t.Fatalf("Hash = %q: %d hex digits, want %d", h, len(h), hex.EncodedLen(sha256.Size))
	}
	if _, err := hex.DecodeString(h); err != nil {
		t.Fatalf("Hash = %q: %v", h, err)
	}
}

// TestHashSeparatesTrees: a name and its content cannot trade bytes, and
// the order of files does not matter.
func TestHashSeparatesTrees(t *testing.T) {
	a := Hash(map[string][]byte{"a": []byte("bc")})
	if b := Hash(map[string][]byte{"ab": []byte("c")}); a == b {
		t.Error("moving a byte from content to name keeps the hash")
	}
	if Hash(map[string][]byte{"x": nil, "y": []byte("1")}) != Hash(map[string][]byte{"y": []byte("1"), "x": nil}) {
		t.Error("hash depends on map order")
	}
	if Hash(nil) == Hash(map[string][]byte{"": nil}) {
		t.Error("an empty tree hashes like a tree with one empty file")
	}
}
