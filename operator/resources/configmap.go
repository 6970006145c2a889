package resources

import (
	"bytes"
	"compress/gzip"
	"runtime"
	"slices"
	"strings"
	"sync"
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
// config never updates the ConfigMap. Measured on this project's 2-core
// machine over every file of pipeline.BenchmarkChange's Gateway (CPU time
// to compress all of them, total compressed size):
//
//	routes  level 1          level 2          level 3          level 6
//	1,000   2.4 ms  85 KB    3.3 ms  84 KB    3.4 ms  83 KB    7.2 ms  79 KB
//	3,000   7.2 ms 244 KB    7.3 ms 237 KB    8.7-11 ms 237 KB 22 ms 220 KB
//	5,000  12.0 ms 404 KB   11.5 ms 391 KB   14.5 ms 390 KB   33 ms 363 KB
//
// Level 2 compresses as fast as level 1 (BestSpeed, another algorithm)
// and as small as level 3; the budget (pipeline.CompressedBudget, 960
// KiB) is then reached near 12,000 such routes, as with level 3. (Another
// Go version's compressor, or another level, may give other bytes: one
// ConfigMap update after an operator upgrade, same config hash.)
const gzipLevel = 2

// EncodedConfig is the config files as a ConfigMap stores them: data
// (UTF-8 text) and binaryData (other bytes, or everything gzipped; see
// plainConfigLimit).
type EncodedConfig struct {
	Data   map[string]string
	Binary map[string][]byte
	// Hash is ConfigHash of the files encoded (config and Secret), set by
	// the one who had both (the pipeline, once per render; a Gateway
	// whose model did not change keeps it): ObjectsEncoded, run on every
	// reconcile, then hashes no file. "" when not known: ObjectsEncoded
	// computes it.
	Hash string
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
	return EncodeConfigAfter(files, nil, EncodedConfig{})
}

// EncodeConfigAfter is EncodeConfig for files that an earlier render's
// prevFiles, encoded as prev, may partly repeat: a file byte-identical to
// its namesake in prevFiles keeps its compressed bytes from prev instead
// of being compressed again (the gzip is deterministic, so the result is
// EncodeConfig's). Most route changes leave every file but one or two as
// they were, and compressing is a tenth of the operator's work per change.
func EncodeConfigAfter(files, prevFiles map[string][]byte, prev EncodedConfig) EncodedConfig {
	return EncodeConfigKeeping(files, SameFiles(files, prevFiles), prev)
}

// SameFiles names the files of files byte-identical to their namesakes in
// prevFiles, for EncodeConfigKeeping: a caller compares first and lets
// prevFiles go before it adds a file made after the render (the pipeline:
// the source document, the largest file).
func SameFiles(files, prevFiles map[string][]byte) map[string]bool {
	same := map[string]bool{}
	for name, content := range files {
		if old, ok := prevFiles[name]; ok && bytes.Equal(old, content) {
			same[name] = true
		}
	}
	return same
}

// EncodeConfigKeeping is EncodeConfigAfter with the files compared
// beforehand (SameFiles): a file named in same keeps its compressed bytes
// from prev. Each file compressed again gets a buffer sized from its
// compressed size in prev (a route change changes it little).
func EncodeConfigKeeping(files map[string][]byte, same map[string]bool, prev EncodedConfig) EncodedConfig {
	if !mustCompress(files) {
		return EncodedConfig{Data: textFiles(files), Binary: binaryFiles(files)}
	}
	var last map[string][]byte // compressed files of prev, when it was compressed
	if prev.Data == nil {
		last = prev.Binary
	}
	binary := make(map[string][]byte, len(files))
	var changed []string
	for name := range files {
		key := name + dataplane.GzipSuffix
		if gz, ok := last[key]; ok && same[name] {
			binary[key] = gz
			continue
		}
		changed = append(changed, name)
	}
	for i, gz := range gzipEach(files, changed, last) {
		binary[changed[i]+dataplane.GzipSuffix] = gz
	}
	return EncodedConfig{Binary: nonEmpty(binary)}
}

// gzipEach compresses files[name] for each of names, on as many cores as
// there are (up to one per file): a route change compresses the servers,
// the upstreams and the source document again, and the wait for the
// ConfigMap write is the longest of them rather than their sum. Each
// result is gzipBytes', whatever the order they finish in; last holds the
// earlier compressed files ("<name>.gz") that size the buffers.
func gzipEach(files map[string][]byte, names []string, last map[string][]byte) [][]byte {
	out := make([][]byte, len(names))
	workers := min(len(names), runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i, name := range names {
			out[i] = gzipBytes(files[name], len(last[name+dataplane.GzipSuffix]))
		}
		return out
	}
	// Largest first, so that the longest compression starts at once.
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return len(files[names[b]]) - len(files[names[a]]) })
	next := make(chan int, len(order))
	for _, i := range order {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				out[i] = gzipBytes(files[names[i]], len(last[names[i]+dataplane.GzipSuffix]))
			}
		})
	}
	wg.Wait()
	return out
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
// (mtime 0, no name or comment, OS "unknown") and gzipLevel. lastSize is
// the size of the file's last compression (0: none), which sizes the
// buffer: the result is then kept as written, not copied out (the
// pipeline's memo keeps these bytes until the file changes, so a buffer
// far larger than its content, as the first guess or a doubling leaves
// it, is copied out exactly; each copy is garbage in the middle of a run).
func gzipBytes(data []byte, lastSize int) []byte {
	size := len(data)/8 + 64
	if lastSize > 0 {
		size = lastSize + lastSize/8 + 4096
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(buf)
	// Writes to a bytes.Buffer do not fail.
	_, _ = zw.Write(data)
	_ = zw.Close()
	zw.Reset(nil)
	gzipWriters.Put(zw)
	out := buf.Bytes()
	if spare := cap(out) - len(out); spare > len(out)/8+4096 {
		return bytes.Clone(out)
	}
	return out[:len(out):len(out)]
}

// gzipWriters are reused: a gzip.Writer allocates about 1 MB of
// compressor state, and every encode compresses several files. Reset
// gives the same output as a new writer.
var gzipWriters = sync.Pool{New: func() any {
	zw, err := gzip.NewWriterLevel(nil, gzipLevel)
	if err != nil {
		panic(err) // only for an invalid level, a constant here
	}
	return zw
}}

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
