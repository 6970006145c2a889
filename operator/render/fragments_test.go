package render

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// TestFragmentKeyCoversEveryField: a location's memoized text is reused
// when its content key is the same, so every field the template can write
// must change the key. Each field of locationView, proxyView and grpcView
// (but Src, which the template does not write) is set in turn; a field
// added without its place in appendContent fails here.
func TestFragmentKeyCoversEveryField(t *testing.T) {
	base := func() *locationView {
		return &locationView{Proxy: &proxyView{}, GRPC: &grpcView{}}
	}
	key := func(loc *locationView) string { return string(loc.appendContent(nil)) }
	zero := key(base())
	check := func(path string, set func(loc *locationView, f reflect.Value)) {
		t.Helper()
		loc := base()
		set(loc, reflect.Value{})
		if key(loc) == zero {
			t.Errorf("locationView%s does not change the fragment key (appendContent)", path)
		}
	}
	fill := func(f reflect.Value) bool {
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int:
			f.SetInt(7)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Pointer:
			return false // the nested views, below
		default:
			t.Fatalf("unexpected field kind %s", f.Kind())
		}
		return true
	}
	for _, nested := range []struct {
		name string
		get  func(*locationView) reflect.Value
	}{
		{"", func(l *locationView) reflect.Value { return reflect.ValueOf(l).Elem() }},
		{".Proxy", func(l *locationView) reflect.Value { return reflect.ValueOf(l.Proxy).Elem() }},
		{".GRPC", func(l *locationView) reflect.Value { return reflect.ValueOf(l.GRPC).Elem() }},
	} {
		typ := nested.get(base()).Type()
		for i := range typ.NumField() {
			name := typ.Field(i).Name
			if nested.name == "" && name == "Src" {
				continue
			}
			check(nested.name+"."+name, func(loc *locationView, _ reflect.Value) {
				if !fill(nested.get(loc).Field(i)) {
					nested.get(loc).Field(i).SetZero() // nil Proxy or GRPC
				}
			})
		}
	}
	// Src is not written by the template: the same text for another rule.
	loc := base()
	loc.Src = &model.RouteRef{Name: "other"}
	if key(loc) != zero {
		t.Error("Src changes the fragment key; Begin marks it outside the text")
	}
}

// TestUpstreamFragmentKeyCoversEveryField is the same for an upstream's
// text (template ngo.upstream).
func TestUpstreamFragmentKeyCoversEveryField(t *testing.T) {
	zero := string((&upstreamFragment{}).appendContent(nil))
	var check func(path string, get func(*upstreamFragment) reflect.Value)
	check = func(path string, get func(*upstreamFragment) reflect.Value) {
		typ := get(&upstreamFragment{}).Type()
		for i := range typ.NumField() {
			f := &upstreamFragment{}
			field := get(f).Field(i)
			switch field.Kind() {
			case reflect.String:
				field.SetString("x")
			case reflect.Int:
				field.SetInt(7)
			case reflect.Struct: // the embedded upstreamView
				check(path+"."+typ.Field(i).Name, func(u *upstreamFragment) reflect.Value { return get(u).Field(i) })
				continue
			default:
				t.Fatalf("unexpected field kind %s", field.Kind())
			}
			if string(f.appendContent(nil)) == zero {
				t.Errorf("upstreamFragment%s.%s does not change the fragment key (appendContent)", path, typ.Field(i).Name)
			}
		}
	}
	check("", func(u *upstreamFragment) reflect.Value { return reflect.ValueOf(u).Elem() })
}

// TestRenderAfterReusesUnchangedLocations: a render after a change of one
// route gives Render's files, and executes the location template only for
// the changed locations.
func TestRenderAfterReusesUnchangedLocations(t *testing.T) {
	gw := routesModel(50)
	files, frags, err := RenderAfter(gw, Fragments{})
	if err != nil {
		t.Fatal(err)
	}
	if frags.Len() == 0 {
		t.Fatal("no fragments kept")
	}
	gw.HTTPServers[0].Locations[3].Path = "/changed"
	again, next, err := RenderAfter(gw, frags)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Render(gw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, want) {
		t.Fatal("RenderAfter's files differ from Render's")
	}
	if reflect.DeepEqual(again.Config, files.Config) {
		t.Fatal("the change changed nothing: the test checks nothing")
	}
	reused := 0
	for k, text := range next.texts {
		if old, ok := frags.texts[k]; ok && unsafeSameString(old, text) {
			reused++
		}
	}
	if changed := next.Len() - reused; changed != 2 { // "= /changed" and "/changed/"
		t.Errorf("%d location texts written again, want 2 (of %d)", changed, next.Len())
	}
}

// unsafeSameString reports whether a and b are the same string in memory
// (reused, not executed again).
func unsafeSameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}
