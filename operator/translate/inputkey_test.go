package translate_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// goldenInputsFromAPIServer reads every golden case's input with the
// versions an API server would give its objects: a resourceVersion, a UID
// and (for those it reads by generation) a generation of at least 1.
func goldenInputsFromAPIServer(t *testing.T) map[string]translate.Input {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	out := map[string]translate.Input{}
	for _, p := range paths {
		in := readGoldenInput(t, p)
		n := 0
		eachObject(&in, func(obj metav1.Object) {
			n++
			obj.SetResourceVersion(fmt.Sprint(n))
			obj.SetUID(types.UID(fmt.Sprintf("uid-%d", n)))
			if obj.GetGeneration() == 0 {
				obj.SetGeneration(1)
			}
		})
		out[strings.TrimSuffix(filepath.Base(p), ".in.yaml")] = in
	}
	return out
}

// eachObject calls fn with a pointer to every object of in.
func eachObject(in *translate.Input, fn func(metav1.Object)) {
	v := reflect.ValueOf(in).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.Slice {
			continue
		}
		for j := range f.Len() {
			if obj, ok := objectAt(f, j).Interface().(metav1.Object); ok {
				fn(obj)
			}
		}
	}
}

// objectAt is a pointer to the j-th object of an Input list, whether the
// list holds objects (most kinds) or pointers to them (the routes).
func objectAt(list reflect.Value, j int) reflect.Value {
	if list.Type().Elem().Kind() == reflect.Pointer {
		return list.Index(j)
	}
	return list.Index(j).Addr()
}

// statusOf is the Status field of an object, invalid when it has none.
func statusOf(obj metav1.Object) reflect.Value {
	return reflect.ValueOf(obj).Elem().FieldByName("Status")
}

// fill sets every settable field reachable from v to a non-zero value
// (strings "junk", numbers 7, one element per slice and map), up to depth.
func fill(v reflect.Value, depth int) {
	if depth == 0 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("junk")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth-1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth-1)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth-1)
		fill(e, depth-1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth-1)
			}
		}
	}
}

// TestInputKeyIgnoresOnlyWhatTranslateIgnores: for every golden case, what
// InputKey leaves out (the status and resourceVersion of the objects whose
// status the operator writes, and everyone's managed fields, finalizers
// and owner references) changes nothing in Translate's output, and the key
// stays: so a reconcile that skips translating on an equal key skips
// nothing that could differ.
func TestInputKeyIgnoresOnlyWhatTranslateIgnores(t *testing.T) {
	for name, in := range goldenInputsFromAPIServer(t) {
		t.Run(name, func(t *testing.T) {
			want := translate.Translate(in)
			key, ok := translate.InputKey(&in)
			if !ok {
				t.Fatal("no key for an input whose objects all have versions")
			}
			changed := readGoldenInput(t, filepath.Join("testdata", name+".in.yaml"))
			n := 0
			eachObject(&changed, func(obj metav1.Object) {
				n++
				obj.SetUID(types.UID(fmt.Sprintf("uid-%d", n)))
				obj.SetResourceVersion(fmt.Sprint(n))
				if obj.GetGeneration() == 0 {
					obj.SetGeneration(1)
				}
				obj.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "someone", Operation: metav1.ManagedFieldsOperationApply}})
				obj.SetFinalizers([]string{"example.com/finalizer"})
				obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "owner-uid"}})
				if status := statusOf(obj); status.IsValid() && isStatusKind(obj) {
					fill(status, 8)
					obj.SetResourceVersion(fmt.Sprint(n + 100000))
				}
			})
			if got := translate.Translate(changed); !reflect.DeepEqual(got, want) {
				t.Fatal("Translate's output depends on a status, resourceVersion, managed field, finalizer or owner reference")
			}
			if got, _ := translate.InputKey(&changed); got != key {
				t.Fatal("InputKey changed with only what Translate ignores")
			}
		})
	}
}

// isStatusKind reports whether InputKey reads obj by generation: the
// Gateway API kinds the operator writes the status of.
func isStatusKind(obj metav1.Object) bool {
	switch reflect.TypeOf(obj).Elem().Name() {
	case "GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "TCPRoute", "UDPRoute", "TLSRoute", "ListenerSet", "BackendTLSPolicy":
		return true
	}
	return false
}

// TestInputKeyChangesWithEveryInput: for every golden case, changing any
// one object in a way an API server would show (a new resourceVersion; for
// the kinds read by generation, a new generation, label or annotation),
// deleting it, refusing a route or changing the CRD versions gives another
// key. An object without versions gives no key at all.
func TestInputKeyChangesWithEveryInput(t *testing.T) {
	for name, in := range goldenInputsFromAPIServer(t) {
		t.Run(name, func(t *testing.T) {
			base, ok := translate.InputKey(&in)
			if !ok {
				t.Fatal("no key")
			}
			differs := func(what string, mutate func(in *translate.Input)) {
				t.Helper()
				changed := deepCopyInput(in)
				mutate(&changed)
				key, ok := translate.InputKey(&changed)
				if ok && key.All == base.All {
					t.Errorf("%s: same key", what)
				}
				if onlySlices := strings.HasPrefix(what, "EndpointSlices["); ok && onlySlices != (key.ButEndpointSlices == base.ButEndpointSlices) {
					t.Errorf("%s: the key but EndpointSlices changed %v", what, !onlySlices)
				}
			}
			v := reflect.ValueOf(in)
			for i := range v.NumField() {
				f := v.Type().Field(i)
				if v.Field(i).Kind() != reflect.Slice {
					continue
				}
				for j := range v.Field(i).Len() {
					at := func(in *translate.Input) metav1.Object {
						return objectAt(reflect.ValueOf(in).Elem().Field(i), j).Interface().(metav1.Object)
					}
					label := fmt.Sprintf("%s[%d]", f.Name, j)
					if isStatusKind(at(&in)) {
						differs(label+" generation", func(in *translate.Input) { at(in).SetGeneration(at(in).GetGeneration() + 1) })
						differs(label+" label", func(in *translate.Input) { at(in).SetLabels(map[string]string{"new": "label"}) })
						differs(label+" annotation", func(in *translate.Input) { at(in).SetAnnotations(map[string]string{"new": "annotation"}) })
					} else {
						differs(label+" resourceVersion", func(in *translate.Input) { at(in).SetResourceVersion("changed") })
					}
					differs(label+" recreated", func(in *translate.Input) { at(in).SetUID("another-uid") })
					differs(label+" deleted", func(in *translate.Input) {
						s := reflect.ValueOf(in).Elem().Field(i)
						s.Set(reflect.AppendSlice(s.Slice(0, j), s.Slice(j+1, s.Len())))
					})
					without := deepCopyInput(in)
					at(&without).SetResourceVersion("")
					if _, ok := translate.InputKey(&without); ok {
						t.Errorf("%s: a key for an object without a resourceVersion", label)
					}
				}
			}
			differs("a route refused", func(in *translate.Input) {
				in.Refused = map[translate.RouteKey]string{{Kind: "HTTPRoute", NamespacedName: types.NamespacedName{Namespace: "x", Name: "y"}}: "no"}
			})
			differs("CRD versions", func(in *translate.Input) { in.GatewayAPICRDVersions = map[string]string{"x": "v9"} })
			differs("CRD channels", func(in *translate.Input) { in.GatewayAPICRDChannels = map[string]string{"x": "experimental"} })
		})
	}
}

// deepCopyInput copies every list of in and every object in it.
func deepCopyInput(in translate.Input) translate.Input {
	out := in
	v := reflect.ValueOf(&out).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.Slice || f.IsNil() {
			continue
		}
		c := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
		for j := range f.Len() {
			copied := objectAt(f, j).MethodByName("DeepCopy").Call(nil)[0]
			if f.Type().Elem().Kind() != reflect.Pointer {
				copied = copied.Elem()
			}
			c.Index(j).Set(copied)
		}
		f.Set(c)
	}
	return out
}

// TestReendpointIsTranslate: for every golden case and each way its
// EndpointSlices can change (endpoints gone, not ready, added; a slice
// deleted, added, its port renumbered; none left), Reendpoint of the
// first translation gives exactly what translating the changed input
// gives, models and statuses included: EndpointSlices feed nothing else.
func TestReendpointIsTranslate(t *testing.T) {
	changes := map[string]func(in *translate.Input){
		"nothing": func(*translate.Input) {},
		"first endpoint of each slice gone": func(in *translate.Input) {
			for i := range in.EndpointSlices {
				if eps := in.EndpointSlices[i].Endpoints; len(eps) > 0 {
					in.EndpointSlices[i].Endpoints = eps[1:]
				}
			}
		},
		"first endpoint of each slice not ready": func(in *translate.Input) {
			for i := range in.EndpointSlices {
				if eps := in.EndpointSlices[i].Endpoints; len(eps) > 0 {
					eps[0].Conditions.Ready = new(bool)
				}
			}
		},
		"an endpoint added to each slice": func(in *translate.Input) {
			for i := range in.EndpointSlices {
				es := &in.EndpointSlices[i]
				addr := "10.99.0.1"
				if es.AddressType == "IPv6" {
					addr = "fd00::99"
				}
				es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{addr}})
			}
		},
		"first slice deleted": func(in *translate.Input) {
			if len(in.EndpointSlices) > 0 {
				in.EndpointSlices = in.EndpointSlices[1:]
			}
		},
		"a second slice per slice": func(in *translate.Input) {
			for _, es := range slices.Clone(in.EndpointSlices) {
				es.Name += "-more"
				es.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.98.0.1"}}}
				in.EndpointSlices = append(in.EndpointSlices, es)
			}
		},
		"ports renumbered": func(in *translate.Input) {
			for i := range in.EndpointSlices {
				for j := range in.EndpointSlices[i].Ports {
					if p := in.EndpointSlices[i].Ports[j].Port; p != nil {
						in.EndpointSlices[i].Ports[j].Port = ptr.To(*p + 1)
					}
				}
			}
		},
		"none left": func(in *translate.Input) { in.EndpointSlices = nil },
	}
	endpointsChanged := 0
	for name, in := range goldenInputsFromAPIServer(t) {
		prev := translate.Translate(in)
		for what, change := range changes {
			t.Run(name+"/"+what, func(t *testing.T) {
				changed := deepCopyInput(in)
				change(&changed)
				before, _ := translate.InputKey(&in)
				after, _ := translate.InputKey(&changed)
				if before.ButEndpointSlices != after.ButEndpointSlices {
					t.Fatal("a change of EndpointSlices changed the key but EndpointSlices")
				}
				want := translate.Translate(changed)
				if got := translate.Reendpoint(prev, &changed); !reflect.DeepEqual(got, want) {
					t.Fatal("Reendpoint differs from Translate")
				}
				if !reflect.DeepEqual(prev, want) {
					endpointsChanged++
				}
			})
		}
	}
	if endpointsChanged < 10 {
		t.Errorf("only %d changes changed any endpoints: the cases do not test Reendpoint", endpointsChanged)
	}
}

// TestTranslateLeavesItsInputAsItIs: for every golden case, Translate and
// Reendpoint change nothing in their Input. The reconciler lists routes
// without copying them out of its cache (readInputs): a change here would
// change the cache.
func TestTranslateLeavesItsInputAsItIs(t *testing.T) {
	for name, in := range goldenInputsFromAPIServer(t) {
		t.Run(name, func(t *testing.T) {
			before := deepCopyInput(in)
			out := translate.Translate(in)
			translate.Reendpoint(out, &in)
			if !reflect.DeepEqual(in, before) {
				t.Fatal("Translate or Reendpoint changed its input")
			}
		})
	}
}
