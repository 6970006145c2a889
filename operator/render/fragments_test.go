package render

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
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
// text (template ngo.upstream), whose key is made of the model's upstream
// (every field, nested ones too), its nginx name and its block's
// settings: the view is built from nothing else (upstreamViewOf).
func TestUpstreamFragmentKeyCoversEveryField(t *testing.T) {
	key := func(f *upstreamFragment, up *model.Upstream, ref string) string {
		return string(f.appendContent(nil, up, ref))
	}
	zero := key(&upstreamFragment{}, &model.Upstream{TLS: &model.UpstreamTLS{}}, "")
	if key(&upstreamFragment{}, &model.Upstream{TLS: &model.UpstreamTLS{}}, "u1") == zero {
		t.Error("the upstream's nginx name does not change the fragment key")
	}
	if key(&upstreamFragment{}, &model.Upstream{}, "") == zero {
		t.Error("a nil TLS does not change the fragment key")
	}
	fill := func(f reflect.Value) bool {
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int, reflect.Int32:
			f.SetInt(7)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Struct, reflect.Pointer:
			return false
		default:
			t.Fatalf("unexpected field kind %s", f.Kind())
		}
		return true
	}
	// The block's settings (the embedded view is made of the model's
	// upstream and its name, checked below).
	typ := reflect.TypeFor[upstreamFragment]()
	for i := range typ.NumField() {
		f := &upstreamFragment{}
		if !fill(reflect.ValueOf(f).Elem().Field(i)) {
			continue
		}
		if key(f, &model.Upstream{TLS: &model.UpstreamTLS{}}, "") == zero {
			t.Errorf("upstreamFragment.%s does not change the fragment key (appendContent)", typ.Field(i).Name)
		}
	}
	var check func(path string, get func(*model.Upstream) reflect.Value)
	check = func(path string, get func(*model.Upstream) reflect.Value) {
		typ := get(&model.Upstream{TLS: &model.UpstreamTLS{}}).Type()
		for i := range typ.NumField() {
			up := &model.Upstream{TLS: &model.UpstreamTLS{}}
			field := get(up).Field(i)
			name := path + "." + typ.Field(i).Name
			if !fill(field) {
				check(name, func(u *model.Upstream) reflect.Value { return reflect.Indirect(get(u).Field(i)) })
				continue
			}
			if key(&upstreamFragment{}, up, "") == zero {
				t.Errorf("model.Upstream%s does not change the fragment key (appendContent)", name)
			}
		}
	}
	check("", func(u *model.Upstream) reflect.Value { return reflect.ValueOf(u).Elem() })
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
	if frags.Len() == 0 || frags.executed != frags.Len() {
		t.Fatalf("first render kept %d texts, executed %d: want all executed", frags.Len(), frags.executed)
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
	if next.executed != 2 { // "= /changed" and "/changed/"
		t.Errorf("%d location texts written again, want 2 (of %d)", next.executed, next.Len())
	}
}

// TestFragmentsAreSubstringsOfTheFiles: the texts Fragments keeps are the
// file's own bytes, not copies (their memory is the files').
func TestFragmentsAreSubstringsOfTheFiles(t *testing.T) {
	gw := routesModel(20)
	var frags Fragments
	for range 2 { // executed, then reused
		files, next, err := RenderAfter(gw, frags)
		if err != nil {
			t.Fatal(err)
		}
		if servers := files.Config[FileServers]; len(next.locations) == 0 || len(next.locationFile) == 0 || &next.locationFile[0] != &servers[0] || len(next.locationFile) != len(servers) {
			t.Fatalf("the location texts are not in %s's bytes", FileServers)
		}
		for key, span := range next.locations {
			if span.start < 0 || span.end < span.start || int(span.end) > len(next.locationFile) {
				t.Fatalf("text %x at %d:%d, outside %s", key[:4], span.start, span.end, FileServers)
			}
		}
		for _, b := range next.blocks {
			if !withinAny(b.text, files.Config) {
				t.Fatalf("text %.40q is not in a rendered file", b.text)
			}
		}
		frags = next
	}
}

func withinAny(text string, files map[string][]byte) bool {
	p := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	for _, data := range files {
		if len(data) == 0 {
			continue
		}
		start := uintptr(unsafe.Pointer(&data[0]))
		if p >= start && p+uintptr(len(text)) <= start+uintptr(len(data)) {
			return true
		}
	}
	return false
}

// fragmentChanges are edits of a model of the kinds that reach the render
// step: each returns false when the model has nothing to edit that way.
var fragmentChanges = []struct {
	name   string
	change func(gw *model.Gateway) bool
}{
	{"route edited: path", func(gw *model.Gateway) bool {
		loc := firstLocation(gw)
		if loc == nil {
			return false
		}
		loc.Path = strings.TrimRight(loc.Path, "/") + "/edited"
		return true
	}},
	{"route edited: filter", func(gw *model.Gateway) bool {
		rule := firstRule(gw)
		if rule == nil {
			return false
		}
		rule.ResponseHeaders.Add = append(rule.ResponseHeaders.Add, model.Header{Name: "X-Edited", Value: "1", Field: "spec.rules[0].filters[9]"})
		return true
	}},
	{"route edited: timeout", func(gw *model.Gateway) bool {
		rule := firstRule(gw)
		if rule == nil || rule.Redirect != nil || rule.Return != nil || rule.GRPC {
			return false
		}
		rule.Timeouts.RequestMillis = 1234
		return true
	}},
	{"route added", func(gw *model.Gateway) bool {
		if len(gw.HTTPServers) == 0 {
			return false
		}
		srv := &gw.HTTPServers[len(gw.HTTPServers)-1]
		rule := &model.Rule{ID: "added_0", Route: route("added", 0), Return: &model.Return{StatusCode: 204}}
		srv.Locations = append(srv.Locations, prefix("/added", always(rule)))
		return true
	}},
	{"route removed", func(gw *model.Gateway) bool {
		for i := range gw.HTTPServers {
			if srv := &gw.HTTPServers[i]; len(srv.Locations) > 0 {
				srv.Locations = srv.Locations[1:]
				return true
			}
		}
		return false
	}},
	{"server settings", func(gw *model.Gateway) bool {
		if len(gw.HTTPServers) == 0 {
			return false
		}
		gw.HTTPServers[0].Listeners = append(gw.HTTPServers[0].Listeners, "changed")
		return true
	}},
	{"gateway settings", func(gw *model.Gateway) bool {
		if gw.Settings.AccessLogFormat == "text" {
			gw.Settings.AccessLogFormat = "json"
		} else {
			gw.Settings.AccessLogFormat = "text"
		}
		return true
	}},
	{"upstream changed", func(gw *model.Gateway) bool {
		if len(gw.Upstreams) == 0 {
			return false
		}
		up := &gw.Upstreams[0] // its protocol alone: its comment stays
		if up.Protocol == model.ProtocolH2C {
			up.Protocol = model.ProtocolHTTP1
		} else {
			up.Protocol = model.ProtocolH2C
		}
		return true
	}},
	{"upstream's Service port", func(gw *model.Gateway) bool {
		if len(gw.Upstreams) == 0 {
			return false
		}
		gw.Upstreams[0].ServicePort++
		return true
	}},
	{"upstream added", func(gw *model.Gateway) bool {
		if len(gw.HTTPServers) == 0 {
			return false
		}
		gw.Upstreams = append(gw.Upstreams, upstream("default_added_80"))
		return true
	}},
	{"stream upstream changed", func(gw *model.Gateway) bool {
		if len(gw.StreamUpstreams) == 0 {
			return false
		}
		gw.StreamUpstreams[0].ServicePort++
		return true
	}},
}

func firstLocation(gw *model.Gateway) *model.Location {
	for i := range gw.HTTPServers {
		for j := range gw.HTTPServers[i].Locations {
			loc := &gw.HTTPServers[i].Locations[j]
			if loc.Path != "/" && len(loc.Candidates) > 0 {
				return loc
			}
		}
	}
	return nil
}

func firstRule(gw *model.Gateway) *model.Rule {
	for i := range gw.HTTPServers {
		for _, loc := range gw.HTTPServers[i].Locations {
			for _, c := range loc.Candidates {
				if c.Rule != nil {
					return c.Rule
				}
			}
		}
	}
	return nil
}

// TestRenderAfterIsRender: for every golden case and every kind of change,
// rendering the changed model after the original one's Fragments gives
// Render's files and line sources byte for byte, and so does rendering the
// original again after the changed one's. The changes must change the
// files (else they check nothing), and across the cases texts must be
// reused (else nothing was memoized to get wrong).
func TestRenderAfterIsRender(t *testing.T) {
	reused, checked := 0, 0
	for _, tc := range goldenCases() {
		for _, ch := range fragmentChanges {
			t.Run(tc.name+"/"+ch.name, func(t *testing.T) {
				changed := tc.gw(t)
				if !ch.change(changed) {
					t.Skip("nothing to change that way")
				}
				before, frags, err := RenderAfter(tc.gw(t), Fragments{})
				if err != nil {
					t.Fatal(err)
				}
				want, err := Render(changed)
				if err != nil {
					t.Fatal(err)
				}
				if reflect.DeepEqual(want.Config, before.Config) {
					t.Fatal("the change changed no file: the test checks nothing")
				}
				after, next, err := RenderAfter(changed, frags)
				if err != nil {
					t.Fatal(err)
				}
				if diff := filesDiff(after, want); diff != "" {
					t.Fatalf("after the change, RenderAfter differs from Render: %s", diff)
				}
				back, last, err := RenderAfter(tc.gw(t), next)
				if err != nil {
					t.Fatal(err)
				}
				if diff := filesDiff(back, before); diff != "" {
					t.Fatalf("changed back, RenderAfter differs from Render: %s", diff)
				}
				checked++
				reused += next.Len() - next.executed + last.Len() - last.executed
			})
		}
	}
	if checked < 3*len(goldenCases()) || reused == 0 {
		t.Errorf("%d renders checked, %d texts reused: too few to show anything", checked, reused)
	}
}

// filesDiff names the first file (or its line sources) that differs, with
// the first differing line; "" when a and b are the same.
func filesDiff(a, b Files) string {
	for _, set := range []struct {
		kind string
		a, b map[string][]byte
	}{{"config", a.Config, b.Config}, {"secret", a.Secret, b.Secret}} {
		for _, name := range slices.Sorted(maps.Keys(mergedKeys(set.a, set.b))) {
			x, y := string(set.a[name]), string(set.b[name])
			if x == y {
				continue
			}
			xl, yl := strings.Split(x, "\n"), strings.Split(y, "\n")
			for i := range max(len(xl), len(yl)) {
				if i >= len(xl) || i >= len(yl) || xl[i] != yl[i] {
					return fmt.Sprintf("%s file %s line %d: %q vs %q", set.kind, name, i+1, lineAt(xl, i), lineAt(yl, i))
				}
			}
		}
	}
	if !reflect.DeepEqual(a.Sources, b.Sources) {
		return fmt.Sprintf("line sources differ: %v vs %v", a.Sources, b.Sources)
	}
	return ""
}

func mergedKeys(a, b map[string][]byte) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<none>"
}
