package mount

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

func TestExpand(t *testing.T) {
	limits := Limits{File: 1000, Total: 1500}
	conf := []byte("http { include routes.conf; }\n")
	valid := testenv.Gzip(t, conf)
	corrupt := bytes.Clone(valid)
	corrupt[len(corrupt)-5] ^= 0xff // the CRC
	tests := []struct {
		name    string
		files   map[string]File
		want    map[string]File
		wantErr string // substring; empty: no error
	}{
		{name: "plain files pass through",
			files: map[string]File{"nginx.conf": {Data: conf, Mode: 0o644}},
			want:  map[string]File{"nginx.conf": {Data: conf, Mode: 0o644}}},
		{name: "compressed key is written under its name with its mode",
			files: map[string]File{"nginx.conf.gz": {Data: valid, Mode: 0o640}, "x.conf": {Data: []byte("x"), Mode: 0o644}},
			want:  map[string]File{"nginx.conf": {Data: conf, Mode: 0o640}, "x.conf": {Data: []byte("x"), Mode: 0o644}}},
		{name: "a name ending in .gz survives as .gz.gz",
			files: map[string]File{"x.gz.gz": {Data: valid, Mode: 0o644}},
			want:  map[string]File{"x.gz": {Data: conf, Mode: 0o644}}},
		{name: "exactly the file limit",
			files: map[string]File{"a.gz": {Data: testenv.Gzip(t, make([]byte, 1000))}},
			want:  map[string]File{"a": {Data: make([]byte, 1000)}}},
		{name: "plain and compressed under one name",
			files:   map[string]File{"nginx.conf": {Data: conf}, "nginx.conf.gz": {Data: valid}},
			wantErr: `file "nginx.conf" is in the ConfigMap both plain and compressed ("nginx.conf.gz")`},
		{name: "not gzip",
			files:   map[string]File{"nginx.conf.gz": {Data: conf}},
			wantErr: `ConfigMap key "nginx.conf.gz": not a gzip archive`},
		{name: "bad checksum",
			files:   map[string]File{"nginx.conf.gz": {Data: corrupt}},
			wantErr: `ConfigMap key "nginx.conf.gz": corrupt gzip archive`},
		{name: "truncated",
			files:   map[string]File{"nginx.conf.gz": {Data: valid[:len(valid)-10]}},
			wantErr: `ConfigMap key "nginx.conf.gz": corrupt gzip archive`},
		{name: "one byte over the file limit",
			files:   map[string]File{"a.gz": {Data: testenv.Gzip(t, make([]byte, 1001))}},
			wantErr: `ConfigMap key "a.gz": decompresses to more than 1000 bytes`},
		{name: "files over the total limit",
			files:   map[string]File{"a.gz": {Data: testenv.Gzip(t, make([]byte, 900))}, "b.gz": {Data: testenv.Gzip(t, make([]byte, 900))}},
			wantErr: `ConfigMap key "b.gz": the decompressed files exceed 1500 bytes in total`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.files, limits)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d files, want %d", len(got), len(tt.want))
			}
			for name, want := range tt.want {
				if !bytes.Equal(got[name].Data, want.Data) || got[name].Mode != want.Mode {
					t.Errorf("%s: %q %v, want %q %v", name, got[name].Data, got[name].Mode, want.Data, want.Mode)
				}
			}
		})
	}
}

// TestExpandStopsAtTheLimit: a bomb far beyond the bound is refused after
// about the bound in memory, not its full size.
func TestExpandStopsAtTheLimit(t *testing.T) {
	bomb := testenv.GzipZeros(t, 256<<20)
	var err error
	alloc := allocated(func() { _, err = Expand(map[string]File{"a.gz": {Data: bomb}}, Limits{File: 1 << 20, Total: 1 << 20}) })
	if err == nil || !strings.Contains(err.Error(), "more than 1 MiB") {
		t.Fatalf("a 256 MiB file against a 1 MiB bound: %v", err)
	}
	if alloc > 8<<20 {
		t.Errorf("refusing a %d-byte bomb allocated %d bytes", len(bomb), alloc)
	}
}

// TestExpandDoesNotTrustTheTrailer: the buffer is sized from the archive's
// trailer (ISIZE), but a small archive whose trailer claims 4 GiB gets no
// more than deflate could expand it to, and is refused as corrupt (the
// length check fails).
func TestExpandDoesNotTrustTheTrailer(t *testing.T) {
	lying := testenv.Gzip(t, []byte("events {}\n"))
	copy(lying[len(lying)-4:], []byte{0xff, 0xff, 0xff, 0xff})
	var err error
	alloc := allocated(func() {
		_, err = Expand(map[string]File{"a.gz": {Data: lying}}, Limits{File: 64 << 20, Total: 64 << 20})
	})
	if err == nil || !strings.Contains(err.Error(), "corrupt gzip archive") {
		t.Fatalf("an archive with a lying length: %v", err)
	}
	if alloc > 1<<20 {
		t.Errorf("a %d-byte archive claiming 4 GiB allocated %d bytes", len(lying), alloc)
	}
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
