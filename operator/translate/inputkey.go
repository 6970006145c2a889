package translate

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// InputKey is a digest of everything Translate reads of in, made of the
// versions the API server gives its objects instead of their contents, so
// that it costs a sort of the object names rather than a walk of every
// route: two Inputs read from the same API server with the same InputKey
// translate to the same Output. The reconciler uses it to skip translating
// and rendering for an event that changed nothing the translation reads (a
// gateway pod, a report or owned object written, a status it wrote itself).
//
// Each object counts by namespace, name and UID, and by its
// resourceVersion, except the Gateway API objects whose status the operator
// writes (statusKinds): for them the status is not an input (Translate never
// reads it; TestInputKeyIgnoresOnlyWhatTranslateIgnores), and the API
// server increments metadata.generation on every other change but one of
// metadata, so they count by generation, labels, annotations and deletion
// timestamp. Their own status writes therefore leave the key as it is.
//
// ok is false when the key cannot stand for the content: an object without
// a resourceVersion (or such a Gateway API object without a generation),
// which did not come from an API server (files, tests), or an Input field
// it does not know (a field added to Input must be added here).
func InputKey(in *Input) (key Key, ok bool) {
	all, butSlices := sha256.New(), sha256.New()
	var buf, arena []byte
	var spans [][2]int
	str := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	v := reflect.ValueOf(in).Elem()
	for i := range v.NumField() {
		field, f := v.Type().Field(i), v.Field(i)
		str(field.Name)
		switch x := f.Interface().(type) {
		case map[string]string:
			if x == nil {
				str("nil") // nil and empty differ (the CRD versions: unknown or none)
			}
			for _, k := range slices.Sorted(maps.Keys(x)) {
				str(k)
				str(x[k])
			}
		case map[RouteKey]string:
			keys := slices.SortedFunc(maps.Keys(x), func(a, b RouteKey) int {
				return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
			})
			for _, k := range keys {
				str(string(k.Kind))
				str(k.Namespace)
				str(k.Name)
				str(x[k])
			}
		default:
			if f.Kind() != reflect.Slice {
				return key, false
			}
			// Every object's entry goes into one buffer, then the entries
			// are sorted (the order of a cache list is not stable).
			// Sized for the field's objects (about 100 bytes each: name,
			// UID, version) rather than grown by doubling: thousands of
			// routes on every reconcile, and what a reconcile allocates
			// while a collection runs counts as live in it.
			arena, spans = slices.Grow(arena[:0], f.Len()*100), slices.Grow(spans[:0], f.Len())
			elem, byPointer := f.Type().Elem(), f.Type().Elem().Kind() == reflect.Pointer
			if byPointer {
				elem = elem.Elem()
			}
			for j := range f.Len() {
				item := f.Index(j)
				if !byPointer {
					item = item.Addr()
				}
				obj, isObject := item.Interface().(metav1.Object)
				if !isObject || item.IsNil() {
					return key, false
				}
				start := len(arena)
				var known bool
				if arena, known = appendObjectVersion(arena, obj, statusKinds[elem]); !known {
					return key, false
				}
				spans = append(spans, [2]int{start, len(arena)})
			}
			slices.SortFunc(spans, func(a, b [2]int) int { return bytes.Compare(arena[a[0]:a[1]], arena[b[0]:b[1]]) })
			buf = slices.Grow(buf, len(arena)+binary.MaxVarintLen64*(len(spans)+1))
			buf = binary.AppendUvarint(buf, uint64(len(spans)))
			for _, sp := range spans {
				buf = binary.AppendUvarint(buf, uint64(sp[1]-sp[0]))
				buf = append(buf, arena[sp[0]:sp[1]]...)
			}
		}
		_, _ = all.Write(buf) // a hash.Hash never fails
		if field.Name != "EndpointSlices" {
			_, _ = butSlices.Write(buf)
		}
		buf = buf[:0]
	}
	all.Sum(key.All[:0])
	butSlices.Sum(key.ButEndpointSlices[:0])
	return key, true
}

// Key is what InputKey gives: the digest of the whole Input, and of all
// of it but its EndpointSlices (when only that part stays the same, only
// the endpoints changed: Reendpoint).
type Key struct {
	All, ButEndpointSlices [sha256.Size]byte
}

// statusKinds are the kinds of Input whose status the operator writes and
// whose every change but one of metadata or status increments
// metadata.generation (custom resources with a status subresource).
var statusKinds = map[reflect.Type]bool{
	reflect.TypeFor[gatewayv1.GatewayClass]():     true,
	reflect.TypeFor[gatewayv1.Gateway]():          true,
	reflect.TypeFor[gatewayv1.HTTPRoute]():        true,
	reflect.TypeFor[gatewayv1.GRPCRoute]():        true,
	reflect.TypeFor[gatewayv1.TCPRoute]():         true,
	reflect.TypeFor[gatewayv1.UDPRoute]():         true,
	reflect.TypeFor[gatewayv1.TLSRoute]():         true,
	reflect.TypeFor[gatewayv1.ListenerSet]():      true,
	reflect.TypeFor[gatewayv1.BackendTLSPolicy](): true,
}

// appendObjectVersion appends one object's entry in the InputKey (see
// there) to b; known is false when the object carries no version from an
// API server. Namespace and name come first, so entries sort by them.
func appendObjectVersion(b []byte, obj metav1.Object, byGeneration bool) (_ []byte, known bool) {
	if obj.GetResourceVersion() == "" {
		return b, false
	}
	b = append(b, obj.GetNamespace()...)
	b = append(b, '/')
	b = append(b, obj.GetName()...)
	b = append(b, 0)
	b = append(b, obj.GetUID()...)
	b = append(b, 0)
	if !byGeneration {
		return append(b, obj.GetResourceVersion()...), true
	}
	if obj.GetGeneration() == 0 {
		return b, false
	}
	b = binary.AppendVarint(b, obj.GetGeneration())
	for _, m := range []map[string]string{obj.GetLabels(), obj.GetAnnotations()} {
		b = binary.AppendUvarint(b, uint64(len(m)))
		if len(m) == 0 {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.AppendUvarint(b, uint64(len(m[k])))
			b = append(b, m[k]...)
		}
	}
	if ts := obj.GetDeletionTimestamp(); ts != nil {
		b = ts.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	return b, true
}
