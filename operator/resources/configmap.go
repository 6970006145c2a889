package resources

import (
	"bytes"
	"compress/gzip"
	"strings"
	"unicode/utf8"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// plainConfigLimit is the largest total size of rendered config files that
// the ConfigMap holds as they are. Small configs (a few hundred routes) stay
// readable with `kubectl get cm -o yaml`; beyond it every file is stored
// gzipped as binaryData "<name>.gz", since a ConfigMap holds at most 1 MiB
// and 3,000 routes render to ~6 MB (which gzips ~27×). All or nothing, so
// that a reader sees either the readable config or a compressed one.
const plainConfigLimit = 256 << 10

// gzipLevel is fixed so that the same files always give the same bytes
// (with the gzip header's zero values: no name, no mtime): an unchanged
// config never updates the ConfigMap. Level 6 compresses 5,000 routes
// (10 MB) to 387 KB in ~50 ms; level 9 saves 5 % for five times the CPU on
// every reconcile. (Another Go version's compressor may give other bytes:
// one ConfigMap update after an operator upgrade, same hash.)
const gzipLevel = gzip.DefaultCompression

// EncodedConfig is the config files as a ConfigMap stores them: data
// (UTF-8 text) and binaryData (other bytes, or everything gzipped; see
// plainConfigLimit).
type EncodedConfig struct {
	Data   map[string]string
	Binary map[string][]byte
}

// Size is what the encoded files take in the ConfigMap (keys and values).
func (e EncodedConfig) Size() int {
	n := 0
	for k, v := range e.Data {
		n += len(k) + len(v)
	}
	for k, v := range e.Binary {
		n += len(k) + len(v)
	}
	return n
}

// EncodeConfig encodes rendered config files for the ConfigMap. A file
// whose own name ends in dataplane.GzipSuffix is never stored plain,
// because the sidecar would decompress it: its presence makes the whole
// config compressed ("x.gz" becomes "x.gz.gz"). The pipeline encodes once,
// to check the size budget, and ObjectsEncoded reuses the result.
func EncodeConfig(files map[string][]byte) EncodedConfig {
	if !mustCompress(files) {
		return EncodedConfig{Data: textFiles(files), Binary: binaryFiles(files)}
	}
	binary := make(map[string][]byte, len(files))
	for name, content := range files {
		binary[name+dataplane.GzipSuffix] = gzipBytes(content)
	}
	return EncodedConfig{Binary: nonEmpty(binary)}
}

func mustCompress(files map[string][]byte) bool {
	total := 0
	for name, content := range files {
		if strings.HasSuffix(name, dataplane.GzipSuffix) {
			return true
		}
		total += len(content)
	}
	return total > plainConfigLimit
}

// gzipBytes is the deterministic gzip of data: the zero gzip.Header
// (mtime 0, no name or comment, OS "unknown") and gzipLevel.
func gzipBytes(data []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(data)/8 + 64)
	zw, err := gzip.NewWriterLevel(&buf, gzipLevel)
	if err != nil {
		panic(err) // only for an invalid level, a constant here
	}
	// Writes to a bytes.Buffer do not fail.
	_, _ = zw.Write(data)
	_ = zw.Close()
	return buf.Bytes()
}

// textFiles and binaryFiles split plain config files between a ConfigMap's
// data (UTF-8, readable with kubectl) and binaryData (anything else).
func textFiles(files map[string][]byte) map[string]string {
	out := map[string]string{}
	for name, content := range files {
		if utf8.Valid(content) {
			out[name] = string(content)
		}
	}
	return nonEmpty(out)
}

func binaryFiles(files map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for name, content := range files {
		if !utf8.Valid(content) {
			out[name] = content
		}
	}
	return nonEmpty(out)
}
