package pipeline

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"
	"reflect"
	"slices"
)

// modelDigest is the SHA-256 of a value's content (a *model.Gateway's),
// every field, element and pointee with lengths and nil markers, so that
// two values have the same digest only when reflect.DeepEqual holds (up to
// SHA-256 collisions). The Memo keeps this instead of the model, which
// takes about three times the memory of the rendered files it stands for
// (5,000 routes: a 9 MiB model for 3 MiB of files). ok is false for a
// value it cannot read (a func or channel): then nothing is reused.
func modelDigest(v any) (sum [sha256.Size]byte, ok bool) {
	d := digester{h: sha256.New(), buf: make([]byte, 0, 32<<10)}
	if !d.value(reflect.ValueOf(v)) {
		return sum, false
	}
	d.flush()
	d.h.Sum(sum[:0])
	return sum, true
}

type digester struct {
	h   hash.Hash
	buf []byte // staged, written to h in large blocks
}

func (d *digester) flush() {
	_, _ = d.h.Write(d.buf) // a hash.Hash never fails
	d.buf = d.buf[:0]
}

func (d *digester) uint(n uint64) {
	if len(d.buf)+8 > cap(d.buf) {
		d.flush()
	}
	d.buf = binary.LittleEndian.AppendUint64(d.buf, n)
}

func (d *digester) bytes(b []byte) {
	d.uint(uint64(len(b)))
	if len(d.buf)+len(b) > cap(d.buf) {
		d.flush()
		if len(b) > cap(d.buf) {
			_, _ = d.h.Write(b)
			return
		}
	}
	d.buf = append(d.buf, b...)
}

func (d *digester) string(s string) {
	d.uint(uint64(len(s)))
	if len(d.buf)+len(s) > cap(d.buf) {
		d.flush()
		if len(s) > cap(d.buf) {
			_, _ = d.h.Write([]byte(s))
			return
		}
	}
	d.buf = append(d.buf, s...)
}

func (d *digester) value(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Invalid:
		d.uint(0)
	case reflect.Bool:
		if v.Bool() {
			d.uint(1)
		} else {
			d.uint(0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.uint(uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		d.uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		d.uint(math.Float64bits(v.Float()))
	case reflect.String:
		d.string(v.String())
	case reflect.Slice:
		if v.IsNil() {
			d.uint(math.MaxUint64) // nil, unlike an empty slice (DeepEqual tells them apart)
			return true
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			d.bytes(v.Bytes())
			return true
		}
		fallthrough
	case reflect.Array:
		d.uint(uint64(v.Len()))
		for i := range v.Len() {
			if !d.value(v.Index(i)) {
				return false
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if !d.value(v.Field(i)) {
				return false
			}
		}
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			d.uint(math.MaxUint64)
			return true
		}
		if v.Kind() == reflect.Interface {
			d.string(v.Elem().Type().String())
		} else {
			d.uint(1)
		}
		return d.value(v.Elem())
	case reflect.Map:
		if v.IsNil() {
			d.uint(math.MaxUint64)
			return true
		}
		if v.Type().Key().Kind() != reflect.String {
			return false
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			switch {
			case a.String() < b.String():
				return -1
			case a.String() > b.String():
				return 1
			}
			return 0
		})
		d.uint(uint64(len(keys)))
		for _, k := range keys {
			d.string(k.String())
			if !d.value(v.MapIndex(k)) {
				return false
			}
		}
	default: // func, chan, unsafe pointer: not content
		return false
	}
	return true
}
