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

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Fragments are the texts of the location and upstream blocks a render wrote, keyed by
// a digest of the template and the view they were executed with. Render
// takes the last render's Fragments of the same Gateway and reuses a text
// whose digest comes again instead of executing the template: a route
// change at thousands of routes changes a few locations, and text/template's
// reflection per field was the largest cost of writing the others again
// (pipeline.BenchmarkChange). The files are the same with or without them.
// Each text is where it was written in its file (Files.Config), not a
// copy: the Fragments of a render cost memory only for their keys and
// places while its files are kept. The zero value holds nothing.
type Fragments struct {
	// locationFile is the file the location texts were written into
	// (servers.conf), locations where each is in it.
	locationFile []byte
	locations    map[fragmentKey]textSpan
	// blocks are the texts of blocks of upstreams, by a digest of all
	// their upstreams: a render whose upstreams did not change (most
	// route changes) writes each block again in one piece, without a
	// digest and a lookup per upstream.
	blocks map[fragmentKey]fragmentBlock
	// sizes are the sizes of the files written, ranges how many line
	// ranges their sources have, for the next render to grow its buffers
	// once.
	sizes, ranges map[string]int
	// executed is how many texts the render executed rather than reused
	// (for tests).
	executed int
}

// textSpan is where a text is in its file: file[start:end]. Half a
// string's size, and the location texts of a render are all in one file.
type textSpan struct{ start, end int32 }

// fragmentBlock is the text of a block of fragments and where each one is
// in it, so that a block that changed still reuses the texts of the
// fragments that did not.
type fragmentBlock struct {
	text  string
	items []blockItem
}

// blockItem is the text of key at text[start:end] of its block.
type blockItem struct {
	key        fragmentKey
	start, end int
}

// fragmentKey is the digest of a fragment's content: the first 128 bits
// of its SHA-256, half the size of the whole in the maps that hold a key
// per location. Finding two contents with one key takes ~2^64 digests,
// and a content with the key of another's location (to have its text
// written for it) ~2^128.
type fragmentKey [16]byte

// keyOf is the key of content.
func keyOf(content []byte) fragmentKey {
	sum := sha256.Sum256(content)
	return fragmentKey(sum[:len(fragmentKey{})])
}

// Len is how many texts f holds.
func (f Fragments) Len() int {
	n := len(f.locations)
	for _, b := range f.blocks {
		n += len(b.items)
	}
	return n
}

// fragmentCache is the render's side of Fragments: prev are the last
// render's location texts (in prevFile), next the ones this render wrote
// (in the file being written, then in locationFile), so that texts no
// location uses any more are dropped.
type fragmentCache struct {
	prevFile               []byte
	prev, next             map[fragmentKey]textSpan
	locationFile           []byte
	prevBlocks, nextBlocks map[fragmentKey]fragmentBlock
	// prevItems are the texts of prevBlocks' items, indexed when a block
	// first changes.
	prevItems map[fragmentKey]string
	key       []byte // reused buffer for the view's content
	// out is the file being written (the buffer the template executes
	// into), name its name; wroteLocations says location texts went into
	// it; writtenBlocks are the blocks copied into it so far, which settle
	// turns into substrings of the finished file.
	out            *bytes.Buffer
	name           string
	wroteLocations bool
	writtenBlocks  []writtenBlock
	sizes, ranges  map[string]int
	executed       int
}

// writtenBlock is where the block of key was written in the file.
type writtenBlock struct {
	key         fragmentKey
	offset, end int
	items       []blockItem
}

func newFragmentCache(prev Fragments) *fragmentCache {
	return &fragmentCache{
		prevFile: prev.locationFile, prev: prev.locations, next: make(map[fragmentKey]textSpan, len(prev.locations)),
		prevBlocks: prev.blocks, nextBlocks: map[fragmentKey]fragmentBlock{}, sizes: map[string]int{}, ranges: map[string]int{},
	}
}

// fragments is what the render keeps for the next one.
func (c *fragmentCache) fragments() Fragments {
	return Fragments{locationFile: c.locationFile, locations: c.next, blocks: c.nextBlocks, sizes: c.sizes, ranges: c.ranges, executed: c.executed}
}

// start begins file name, written into out.
func (c *fragmentCache) start(name string, out *bytes.Buffer) {
	c.out, c.name, c.wroteLocations, c.writtenBlocks = out, name, false, c.writtenBlocks[:0]
}

// settle records file, the finished bytes of the file since start (the
// buffer's, or a copy of them), whose sources have ranges line ranges, as
// where its texts are: the spans of its locations are places in it, and
// its blocks become substrings of it, so that next holds no text twice
// (the one in the file is kept anyway). file must never change
// afterwards, which Files promises.
func (c *fragmentCache) settle(file []byte, ranges int) {
	c.sizes[c.name], c.ranges[c.name] = len(file), ranges
	if c.wroteLocations {
		c.locationFile = file
	}
	for _, w := range c.writtenBlocks {
		c.nextBlocks[w.key] = fragmentBlock{text: fileString(file, w.offset, w.end), items: w.items}
	}
	c.out, c.writtenBlocks = nil, c.writtenBlocks[:0]
}

// fileString is file[offset:end] as a string sharing file's bytes.
func fileString(file []byte, offset, end int) string {
	if end == offset {
		return ""
	}
	return unsafe.String(&file[offset], end-offset)
}

// writeLocation copies the text of the location of key into the file
// being written, and notes where it is for the next render.
func (c *fragmentCache) writeLocation(key fragmentKey, text string) {
	offset := c.out.Len()
	c.out.WriteString(text)
	c.next[key] = textSpan{int32(offset), int32(c.out.Len())}
	c.wroteLocations = true
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

// server is the template function that gives the view of srv's server
// block (renderer.server), whose locations the function locations
// writes.
func server(v *view, srv *model.HTTPServer) (*serverView, error) {
	if v.r == nil {
		return nil, errNoFile
	}
	sv, err := v.r.server(srv)
	if err != nil {
		v.err = err
	}
	return sv, err
}

// locations is the template function that writes the location blocks of
// server s as renderer.serverLocations builds them: for each, the text of
// locationTemplate, reused from this render or the last one for a location
// of the same content or executed, with its lines marked as its rule's
// (Begin and End). Each view is let go once its text is known; the texts
// of internal locations wait for the end of the server. One call per
// server writing straight into the file the template writes (text/template
// writes to its writer as it goes, which Begin relies on too), rather than
// a template range calling a function per location: text/template calls
// each function through reflection, which cost more than reusing the text.
func locations(v *view, s *serverView) (string, error) {
	c := v.fragments
	if c == nil || c.out == nil || v.r == nil {
		return "", errNoFile
	}
	if c.locationFile != nil || c.name != FileServers {
		// Their spans are places in one file (Fragments).
		return "", fmt.Errorf("render: locations written into %s, not %s alone", c.name, FileServers)
	}
	var internals []pendingLocation
	err := v.r.serverLocations(s, func(loc *locationView, internal bool) error {
		// A leading 0 keeps locations' keys apart from upstreams'.
		c.key = loc.appendContent(append(c.key[:0], 0))
		key, text, inOut, err := c.text(locationTmpl, loc)
		if err != nil {
			return err
		}
		if internal {
			if inOut {
				text = strings.Clone(text) // the buffer may grow meanwhile
			}
			internals = append(internals, pendingLocation{key: key, text: text, src: loc.Src})
		} else {
			v.writeLocation(key, text, loc.Src)
		}
		return nil
	})
	if err != nil {
		v.err = err
		return "", err
	}
	for _, p := range internals {
		v.writeLocation(p.key, p.text, p.src)
	}
	return "", nil
}

// pendingLocation is the text of an internal location, written at the
// end of its server.
type pendingLocation struct {
	key  fragmentKey
	text string
	src  *model.RouteRef
}

// writeLocation writes the text of a location block whose key is key,
// its lines marked as src's.
func (v *view) writeLocation(key fragmentKey, text string, src *model.RouteRef) {
	c := v.fragments
	// The block's lines start after the blank line the text begins with.
	v.beginAt(src, c.out.Len()+len(text)-len(strings.TrimLeft(text, "\n ")))
	c.writeLocation(key, text)
	v.End()
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

// appendContent appends everything its text is made of when it writes up,
// whose nginx name is ref: its block's settings, and the model's upstream
// rather than its view (upstreamViewOf), which is then built only for an
// upstream whose text is not reused. Every field of model.Upstream is in
// it, whether the template writes it or not (TestUpstreamFragmentKeyCoversEveryField).
func (u *upstreamFragment) appendContent(b []byte, up *model.Upstream, ref string) []byte {
	b = appendField(b, u.Zone, u.Service, ref, up.Name, up.ServiceNamespace, up.ServiceName, string(up.Protocol))
	b = binary.AppendVarint(b, int64(u.ZoneKB))
	b = binary.AppendVarint(b, int64(u.Keepalive))
	b = binary.AppendVarint(b, int64(up.ServicePort))
	b = appendBool(b, up.TLS != nil)
	if up.TLS != nil {
		b = appendField(b, up.TLS.Hostname)
		b = binary.AppendUvarint(b, uint64(len(up.TLS.CAPEM)))
		b = append(b, up.TLS.CAPEM...)
	}
	return b
}

// upstreams is the template function that writes the upstreams of block:
// the block's text of the last render when no upstream of it changed,
// else each upstream's text reused or executed as locations does.
func upstreams(block upstreamsView) (string, error) {
	c := block.fragments
	if c == nil || c.out == nil {
		return "", errNoFile
	}
	f := &upstreamFragment{Zone: block.Zone, ZoneKB: block.ZoneKB, Service: block.Service, Keepalive: block.Keepalive}
	refs := block.refs
	// The block's key: every upstream's content (each self-delimiting),
	// in order, in one digest.
	h := sha256.New()
	c.key = binary.AppendUvarint(append(c.key[:0], 2), uint64(len(block.Upstreams)))
	h.Write(c.key)
	for i := range block.Upstreams {
		c.key = f.appendContent(c.key[:0], block.Upstreams[i], refs[i])
		h.Write(c.key)
	}
	blockKey := fragmentKey(h.Sum(nil)[:len(fragmentKey{})])
	start := c.out.Len()
	if b, ok := c.prevBlocks[blockKey]; ok {
		c.out.WriteString(b.text)
		c.writtenBlocks = append(c.writtenBlocks, writtenBlock{key: blockKey, offset: start, end: c.out.Len(), items: b.items})
		return "", nil
	}
	items := make([]blockItem, 0, len(block.Upstreams))
	for i := range block.Upstreams {
		up := block.Upstreams[i]
		// A leading 1 keeps upstreams' keys apart from locations'.
		c.key = f.appendContent(append(c.key[:0], 1), up, refs[i])
		key := keyOf(c.key)
		text, ok := c.prevItem(key)
		if !ok {
			f.upstreamView = upstreamViewOf(up, refs[i])
			var b strings.Builder
			if err := upstreamTmpl.Execute(&b, f); err != nil {
				return "", fmt.Errorf("render %s: %w", upstreamTmpl.Name(), err)
			}
			text = b.String()
			c.executed++
		}
		offset := c.out.Len()
		c.out.WriteString(text)
		items = append(items, blockItem{key: key, start: offset - start, end: c.out.Len() - start})
	}
	c.writtenBlocks = append(c.writtenBlocks, writtenBlock{key: blockKey, offset: start, end: c.out.Len(), items: items})
	return "", nil
}

// prevItem is the text of key in a block of the last render.
func (c *fragmentCache) prevItem(key fragmentKey) (string, bool) {
	if c.prevItems == nil {
		c.prevItems = map[fragmentKey]string{}
		for _, b := range c.prevBlocks {
			for _, it := range b.items {
				c.prevItems[it.key] = b.text[it.start:it.end]
			}
		}
	}
	text, ok := c.prevItems[key]
	return text, ok
}

// text returns the key and text of tmpl for data whose content is c.key:
// reused from the last render or this one (inOut: a place in the file
// being written, valid until it grows), or executed.
func (c *fragmentCache) text(tmpl *template.Template, data any) (key fragmentKey, text string, inOut bool, err error) {
	key = keyOf(c.key)
	if s, ok := c.prev[key]; ok {
		return key, fileString(c.prevFile, int(s.start), int(s.end)), false, nil
	}
	if s, ok := c.next[key]; ok {
		return key, fileString(c.out.Bytes(), int(s.start), int(s.end)), true, nil
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return key, "", false, fmt.Errorf("render %s: %w", tmpl.Name(), err)
	}
	c.executed++
	return key, b.String(), false, nil
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
