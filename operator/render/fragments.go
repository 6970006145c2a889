package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"unsafe"
)

// Fragments are the texts of the location and upstream blocks a render wrote, keyed by
// a digest of the template and the view they were executed with. Render
// takes the last render's Fragments of the same Gateway and reuses a text
// whose digest comes again instead of executing the template: a route
// change at thousands of routes changes a few locations, and text/template's
// reflection per field was the largest cost of writing the others again
// (pipeline.BenchmarkChange). The files are the same with or without them.
// Each text is a substring of the file it was written into (Files.Config),
// not a copy: the Fragments of a render cost memory only for their keys
// while its files are kept. The zero value holds nothing.
type Fragments struct {
	texts map[fragmentKey]string
	// executed is how many of texts the render executed rather than
	// reused (for tests).
	executed int
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
	// out is the file being written (the buffer the template executes
	// into), written the fragments copied into it so far, which settle
	// turns into substrings of the finished file.
	out      *bytes.Buffer
	written  []writtenFragment
	executed int
}

// writtenFragment is where the text of key was written in the file.
type writtenFragment struct {
	key         fragmentKey
	offset, end int
}

func newFragmentCache(prev Fragments) *fragmentCache {
	return &fragmentCache{prev: prev.texts, next: make(map[fragmentKey]string, len(prev.texts))}
}

// start begins a file written into out.
func (c *fragmentCache) start(out *bytes.Buffer) {
	c.out, c.written = out, c.written[:0]
}

// settle makes the texts written into the file since start substrings of
// file, its finished bytes (the buffer's, or a copy of them), so that next
// holds no text twice: the one in the file is kept anyway. file must never
// change afterwards, which Files promises.
func (c *fragmentCache) settle(file []byte) {
	for _, w := range c.written {
		c.next[w.key] = unsafe.String(&file[w.offset], w.end-w.offset)
	}
	c.out, c.written = nil, c.written[:0]
}

// write copies the text of key into the file being written.
func (c *fragmentCache) write(key fragmentKey, text string) {
	offset := c.out.Len()
	c.out.WriteString(text)
	if len(text) > 0 {
		c.written = append(c.written, writtenFragment{key: key, offset: offset, end: c.out.Len()})
	}
}

// locationTemplate lays out one location block (templates/servers.conf.tmpl).
const locationTemplate = "ngo.location"

// upstreamTemplate lays out one upstream (templates/upstreams.conf.tmpl).
const upstreamTemplate = "ngo.upstream"

// locationTmpl and upstreamTmpl are those templates, looked up once (in
// init: the template set's functions include locations and upstreams, which
// execute them).
var locationTmpl, upstreamTmpl *template.Template

func init() {
	locationTmpl = parsedTemplates.Lookup(locationTemplate)
	upstreamTmpl = parsedTemplates.Lookup(upstreamTemplate)
	if locationTmpl == nil || upstreamTmpl == nil {
		panic("render: no template " + locationTemplate + " or " + upstreamTemplate)
	}
}

// errNoFile is the error of locations and upstreams when a template runs
// outside RenderAfter, which gives them the file being written.
var errNoFile = errors.New("render: template function called outside RenderAfter")

// locations is the template function that writes the location blocks of
// server s: for each, the text of locationTemplate, reused from this
// render or the last one for a location of the same content or executed,
// with its lines marked as its rule's (Begin and End). One call per server
// writing straight into the file the template writes (text/template writes
// to its writer as it goes, which Begin relies on too), rather than a
// template range calling a function per location: text/template calls each
// function through reflection, which cost more than reusing the text.
func locations(v *view, s *serverView) (string, error) {
	c := v.fragments
	if c == nil || c.out == nil {
		return "", errNoFile
	}
	for _, loc := range s.Locations {
		// A leading 0 keeps locations' keys apart from upstreams'.
		c.key = loc.appendContent(append(c.key[:0], 0))
		key, text, err := c.text(locationTmpl, loc)
		if err != nil {
			return "", err
		}
		// The block's lines start after the blank line the text begins with.
		v.beginAt(loc.Src, c.out.Len()+len(text)-len(strings.TrimLeft(text, "\n ")))
		c.write(key, text)
		v.End()
	}
	return "", nil
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

// upstreams is the template function that writes the upstreams of block,
// each the text of upstreamTemplate reused or executed as locations does.
func upstreams(block upstreamsView) (string, error) {
	c := block.fragments
	if c == nil || c.out == nil {
		return "", errNoFile
	}
	f := &upstreamFragment{Zone: block.Zone, ZoneKB: block.ZoneKB, Service: block.Service, Keepalive: block.Keepalive}
	for _, up := range block.Upstreams {
		f.upstreamView = up
		// A leading 1 keeps upstreams' keys apart from locations'.
		c.key = f.appendContent(append(c.key[:0], 1))
		key, text, err := c.text(upstreamTmpl, f)
		if err != nil {
			return "", err
		}
		c.write(key, text)
	}
	return "", nil
}

// text returns the key and text of tmpl for data whose content is c.key:
// reused from the last render or this one, or executed. A text reused
// from the last render enters next when written (settle).
func (c *fragmentCache) text(tmpl *template.Template, data any) (fragmentKey, string, error) {
	key := fragmentKey(sha256.Sum256(c.key))
	if text, ok := c.prev[key]; ok {
		return key, text, nil
	}
	if text, ok := c.next[key]; ok {
		return key, text, nil
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return key, "", fmt.Errorf("render %s: %w", tmpl.Name(), err)
	}
	c.executed++
	c.next[key] = b.String()
	return key, c.next[key], nil
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
