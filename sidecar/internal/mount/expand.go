package mount

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// Limits bound what Expand may decompress.
type Limits struct {
	File  int64 // one decompressed file
	Total int64 // all decompressed files of one folder
}

// DefaultLimits are the bounds of internal/dataplane.
var DefaultLimits = Limits{File: dataplane.MaxDecompressedFileSize, Total: dataplane.MaxDecompressedConfigSize}

// Expand returns files with every key ending in dataplane.GzipSuffix
// replaced by its decompressed content under the name without the suffix,
// keeping the key's mode. The operator stores large configs that way (a
// ConfigMap holds at most 1 MiB). An error means the folder holds a config
// to refuse, not one to read again: an archive that is corrupt or would
// decompress beyond limits, or a name present both plain and compressed.
func Expand(files map[string]File, limits Limits) (map[string]File, error) {
	return expand(files, limits, gunzipAhead(files, limits))
}

// expand is Expand with the archives of ahead already decompressed (at
// most limits.File+1 bytes each, no error): the checks, their order and
// their errors are the same as without.
func expand(files map[string]File, limits Limits, ahead map[string][]byte) (map[string]File, error) {
	out := make(map[string]File, len(files))
	var total int64
	// Sorted, so that the same folder always gives the same error.
	for _, key := range slices.Sorted(maps.Keys(files)) {
		f := files[key]
		name, compressed := strings.CutSuffix(key, dataplane.GzipSuffix)
		if !compressed {
			out[key] = f
			continue
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("file %q is in the ConfigMap both plain and compressed (%q)", name, key)
		}
		remaining := min(limits.File, limits.Total-total)
		data, done := ahead[key]
		if !done {
			var err error
			if data, err = gunzip(f.Data, remaining, nil); err != nil {
				return nil, fmt.Errorf("ConfigMap key %q: %w", key, err)
			}
		}
		if int64(len(data)) > remaining {
			if remaining < limits.File {
				return nil, fmt.Errorf("ConfigMap key %q: the decompressed files exceed %s in total", key, byteSize(limits.Total))
			}
			return nil, fmt.Errorf("ConfigMap key %q: decompresses to more than %s", key, byteSize(limits.File))
		}
		total += int64(len(data))
		out[name] = File{Data: data, Mode: f.Mode}
	}
	return out, nil
}

// gunzip decompresses gz, stopping after limit+1 bytes: a result longer
// than limit means the archive is too large, whatever its real size. A
// shorter one was read to its end, where gzip checks its CRC and length.
// The output buffer is sized once from the archive's trailer (ISIZE, the
// length modulo 2^32): grown by doubling, a 2 MB file was copied and
// cleared a dozen times, a sixth of the staging step's CPU (BenchmarkStage
// in sidecar/internal/apply). The trailer is the archive's word, so the
// size taken from it is bounded by limit and by what deflate can expand
// len(gz) bytes to (maxDeflateRatio) and by what is left of budget: a
// lying trailer costs no more memory than an honest archive of its size.
//
// budget, when not nil, is shared with other gunzips running at once: the
// read fails with errOverBudget once they have written more than it holds
// between them.
func gunzip(gz []byte, limit int64, budget *atomic.Int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("not a gzip archive: %w", err)
	}
	limit = max(limit, 0)
	var buf bytes.Buffer
	if len(gz) >= 4 {
		size := int64(binary.LittleEndian.Uint32(gz[len(gz)-4:]))
		// bytes.MinRead: ReadFrom grows the buffer when less is free,
		// even at the end of the data.
		size = min(size, limit+1, int64(len(gz))*maxDeflateRatio)
		if budget != nil {
			size = min(size, max(budget.Load(), 0))
		}
		buf.Grow(int(size) + bytes.MinRead)
	}
	var r io.Reader = io.LimitReader(zr, limit+1)
	if budget != nil {
		r = budgetReader{r, budget}
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("corrupt gzip archive: %w", err)
	}
	return buf.Bytes(), nil
}

// gunzipAhead decompresses the compressed keys of files on as many cores
// as there are (up to one per key), for expand: a route change brings the
// source document, servers.conf and upstreams.conf anew, and the staging
// step waits for the longest rather than their sum. Each key gets
// limits.File; all of them together limits.Total (a shared budget, so
// that the memory held is bounded as in a serial pass). It returns nil
// unless every archive decompressed without error within the budget:
// then expand decompresses them one by one again, whose errors (which
// key, which message) do not depend on which archive finished first.
func gunzipAhead(files map[string]File, limits Limits) map[string][]byte {
	var keys []string
	for key := range files {
		if name, ok := strings.CutSuffix(key, dataplane.GzipSuffix); ok {
			if _, dup := files[name]; !dup {
				keys = append(keys, key)
			}
		}
	}
	workers := min(len(keys), runtime.GOMAXPROCS(0))
	if workers < 2 {
		return nil
	}
	// Largest first, so that the longest one starts at once.
	slices.SortFunc(keys, func(a, b string) int { return len(files[b].Data) - len(files[a].Data) })
	next := make(chan string, len(keys))
	for _, key := range keys {
		next <- key
	}
	close(next)
	var (
		budget atomic.Int64
		failed atomic.Bool
		mu     sync.Mutex
		wg     sync.WaitGroup
	)
	budget.Store(limits.Total + 1)
	out := make(map[string][]byte, len(keys))
	for range workers {
		wg.Go(func() {
			for key := range next {
				if failed.Load() {
					continue
				}
				data, err := gunzip(files[key].Data, limits.File, &budget)
				if err != nil {
					failed.Store(true)
					continue
				}
				mu.Lock()
				out[key] = data
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return nil
	}
	return out
}

var errOverBudget = errors.New("the decompressed files exceed the total bound")

// budgetReader takes what it reads from a budget shared by several.
type budgetReader struct {
	r      io.Reader
	budget *atomic.Int64
}

func (b budgetReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.budget.Add(-int64(n)) < 0 {
		return n, errOverBudget
	}
	return n, err
}

// maxDeflateRatio bounds how many bytes deflate writes per byte of input
// (a 258-byte match costs at least two bits: 1032 to 1).
const maxDeflateRatio = 1032

func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
