package testenv

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGzip(t *testing.T) {
	in := []byte("events {}\n")
	if got := gunzip(t, Gzip(t, in)); !bytes.Equal(got, in) {
		t.Errorf("round trip %q, want %q", got, in)
	}
	size := 3<<20 + 5
	bomb := GzipZeros(t, size)
	if len(bomb) > size/100 {
		t.Errorf("%d zero bytes gzipped to %d bytes", size, len(bomb))
	}
	if got := gunzip(t, bomb); !bytes.Equal(got, make([]byte, size)) {
		t.Errorf("GzipZeros(%d) decompresses to %d bytes, not all zero", size, len(got))
	}
}
