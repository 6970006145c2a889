package mount

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

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
		data, err := gunzip(f.Data, remaining)
		if err != nil {
			return nil, fmt.Errorf("ConfigMap key %q: %w", key, err)
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
// len(gz) bytes to (maxDeflateRatio): a lying trailer costs no more memory
// than an honest archive of its size.
func gunzip(gz []byte, limit int64) ([]byte, error) {
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
		buf.Grow(int(min(size, limit+1, int64(len(gz))*maxDeflateRatio)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(zr, limit+1)); err != nil {
		return nil, fmt.Errorf("corrupt gzip archive: %w", err)
	}
	return buf.Bytes(), nil
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
