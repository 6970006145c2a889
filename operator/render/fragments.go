package render

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"text/template"
)

// Fragments are the texts of the location and upstream blocks a render wrote, keyed by
// a digest of the template and the view they were executed with. Render
// takes the last render's Fragments of the same Gateway and reuses a text
// whose digest comes again instead of executing the template: a route
// change at thousands of routes changes a few locations, and text/template's
// reflection per field was the largest cost of writing the others again
// (pipeline.BenchmarkChange). The files are the same with or without them.
// The zero value holds nothing.
type Fragments struct {
	texts map[fragmentKey]string
}

type fragmentKey [sha256.Size]byte

// Len is how many texts f holds.
func (f Fragments) Len() int { return len(f.texts) }

// fragmentCache is the render's side of Fragments: prev are the last
// render's texts, next the ones this render wrote or reused (so that texts
// no location uses any more are dropped).
type fragmentCache struct {
	prev, next map[fragmentKey]string
	key        []byte // reused buffer for the view's content
}

func newFragmentCache(prev Fragments) *fragmentCache {
	return &fragmentCache{prev: prev.texts, next: make(map[fragmentKey]string, len(prev.texts))}
}

// locationTemplate lays out one location block (templates/servers.conf.tmpl).
const locationTemplate = "ngo.location"

// upstreamTemplate lays out one upstream (templates/upstreams.conf.tmpl).
const upstreamTemplate = "ngo.upstream"

// locationTmpl and upstreamTmpl are those templates, looked up once (in
// init: the template set's functions include location and upstream, which
// execute them).
var locationTmpl, upstreamTmpl *template.Template

func init() {
	locationTmpl = parsedTemplates.Lookup(locationTemplate)
	upstreamTmpl = parsedTemplates.Lookup(upstreamTemplate)
	if locationTmpl == nil || upstreamTmpl == nil {
		panic("render: no template " + locationTemplate + " or " + upstreamTemplate)
	}
}

// upstreamFragment is what template ngo.upstream writes: one upstream
// and the settings of its block.
type upstreamFragment struct {
	upstreamView
	Zone      string
	ZoneKB    int
	Service   string
	Keepalive int
}

// appendContent appends everything of u that its template writes (see
// locationView.appendContent).
func (u *upstreamFragment) appendContent(b []byte) []byte {
	b = appendField(b, u.Comment, u.Name, u.DNSName, u.Protocol, u.Zone, u.Service)
	b = binary.AppendVarint(b, int64(u.ZoneKB))
	return binary.AppendVarint(b, int64(u.Keepalive))
}

// upstreamText is the template function upstream: it writes one upstream of block:
// template ngo.upstream executed, or its text reused as location does.
func upstreamText(block upstreamsView, up upstreamView) (string, error) {
	f := &upstreamFragment{upstreamView: up, Zone: block.Zone, ZoneKB: block.ZoneKB, Service: block.Service, Keepalive: block.Keepalive}
	c := block.fragments
	if c == nil {
		c = newFragmentCache(Fragments{})
	}
	// A leading 1 keeps upstreams' keys apart from locations'.
	c.key = f.appendContent(append(c.key[:0], 1))
	return c.text(upstreamTmpl, f)
}

// text returns the text of tmpl for data whose content is c.key: reused
// from this render or the last one, or executed.
func (c *fragmentCache) text(tmpl *template.Template, data any) (string, error) {
	key := fragmentKey(sha256.Sum256(c.key))
	text, ok := c.next[key]
	if !ok {
		if text, ok = c.prev[key]; !ok {
			var b strings.Builder
			if err := tmpl.Execute(&b, data); err != nil {
				return "", fmt.Errorf("render %s: %w", tmpl.Name(), err)
			}
			text = b.String()
		}
		c.next[key] = text
	}
	return text, nil
}

// location is the template function that writes a location block: the
// text of locationTemplate for loc, executed, or reused from this render or
// the last one for a location of the same content, with its lines marked
// as its rule's (Begin and End). A function rather than view methods: the
// template calls it for every location, and text/template looks a method
// up by name on every call.
func location(v *view, loc *locationView) (string, error) {
	c := v.fragments
	if c == nil {
		c = newFragmentCache(Fragments{})
		v.fragments = c
	}
	// A leading 0 keeps locations' keys apart from upstreams'.
	c.key = loc.appendContent(append(c.key[:0], 0))
	text, err := c.text(locationTmpl, loc)
	if err != nil {
		return "", err
	}
	v.Begin(loc.Src)
	if v.rec.buf != nil {
		// End, once the template has written text after the mark.
		v.endAt(v.rec.buf.Len() + len(text))
	}
	return text, nil
}

// appendContent appends everything of loc that its template writes, each
// string with its length, so that two locations with the same content
// give the same bytes and any difference gives other bytes. Src is left
// out: it is recorded by Begin and End, outside the fragment. A field
// added to locationView (or grpcView, proxyView) that the template writes
// must be added here.
func (loc *locationView) appendContent(b []byte) []byte {
	b = appendField(b, loc.Comment, loc.Match, loc.Path, loc.LogRoot)
	b = appendBool(b, loc.Internal)
	b = appendList(b, loc.ErrorPages)
	b = appendBool(b, loc.InterceptErrors)
	b = appendList(b, loc.Script)
	b = appendList(b, loc.HideHeaders)
	b = appendKVs(b, loc.AddHeaders)
	b = appendList(b, loc.Mirrors)
	b = appendKVs(b, loc.Timeouts)
	b = appendBool(b, loc.Proxy != nil)
	if p := loc.Proxy; p != nil {
		b = appendField(b, p.HTTPVersion, p.Pass)
		b = appendKVs(b, p.Headers)
		b = appendKVs(b, p.TLS)
	}
	b = appendBool(b, loc.GRPC != nil)
	if g := loc.GRPC; g != nil {
		b = appendField(b, g.Pass, g.Message)
		b = binary.AppendVarint(b, int64(g.Status))
		b = appendList(b, g.HideHeaders)
		b = appendKVs(b, g.Headers)
		b = appendKVs(b, g.TLS)
	}
	return b
}

func appendField(b []byte, fields ...string) []byte {
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendList(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	return appendField(b, list...)
}

func appendKVs(b []byte, list []kv) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, e := range list {
		b = appendField(b, e.Key, e.Value)
	}
	return b
}
