package render

import (
	"bytes"
	"sort"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Sources maps the lines of rendered config files to the route rules that
// produced them: per file name, ranges sorted by From, never overlapping.
// Lines that no range covers are ours (settings, server blocks, shared
// maps, upstreams). Lines are numbered from 1, as nginx numbers them in its
// errors ("in servers.conf:123").
type Sources map[string][]LineRange

// LineRange is lines From to To (both included) of a file, written for the
// rule Route names.
type LineRange struct {
	From, To int
	Route    model.RouteRef
}

// At returns the route rule behind line of file, and false when the line
// is not a route's (or the file is unknown).
func (s Sources) At(file string, line int) (model.RouteRef, bool) {
	ranges := s[file]
	i := sort.Search(len(ranges), func(i int) bool { return ranges[i].To >= line })
	if i < len(ranges) && ranges[i].From <= line {
		return ranges[i].Route, true
	}
	return model.RouteRef{}, false
}

// sourceRecorder notes, while a template executes, where each block of a
// route starts and ends in the file being written. The templates call
// view.Begin and view.End, which write nothing, so the rendered bytes are
// the same with or without the recorder.
type sourceRecorder struct {
	buf   *bytes.Buffer
	marks []sourceMark
}

type sourceMark struct {
	offset int
	route  *model.RouteRef // nil: end of a block
}

// Begin marks the start of a block written for route (nil: ours).
func (v *view) Begin(route *model.RouteRef) string {
	if v.rec.buf != nil {
		v.beginAt(route, v.rec.buf.Len())
	}
	return ""
}

// beginAt marks the start of a block written for route (nil: ours) at
// offset.
func (v *view) beginAt(route *model.RouteRef, offset int) {
	if route != nil && v.rec.buf != nil {
		v.rec.marks = append(v.rec.marks, sourceMark{offset: offset, route: route})
	}
}

// End marks the end of the block last begun (its closing line).
func (v *view) End() string {
	if v.rec.buf != nil {
		v.endAt(v.rec.buf.Len())
	}
	return ""
}

// endAt marks the end of the block last begun at offset.
func (v *view) endAt(offset int) {
	if n := len(v.rec.marks); n > 0 && v.rec.marks[n-1].route != nil {
		v.rec.marks = append(v.rec.marks, sourceMark{offset: offset})
	}
}

// start begins recording for a file written into buf.
func (r *sourceRecorder) start(buf *bytes.Buffer) {
	r.buf, r.marks = buf, r.marks[:0]
}

// ranges turns the marks of the file just written into line ranges,
// counting newlines once through the file. Blocks of one rule with only
// blank lines between them (the exact and the prefix location of a path
// prefix, a rule's internal locations) make one range: a blank line is
// nobody's error, and a Gateway's thousands of routes keep half the
// ranges (the operator keeps the sources of its last configs).
func (r *sourceRecorder) ranges() []LineRange {
	data := r.buf.Bytes()
	n := 0
	var prev markedBlock
	for b := range r.blocks {
		if prev.route == nil || !joined(data, prev, b) {
			n++
		}
		prev = b
	}
	out := make([]LineRange, 0, n)
	line, pos := 1, 0
	lineAt := func(offset int) int {
		line += bytes.Count(data[pos:offset], []byte{'\n'})
		pos = offset
		return line
	}
	prev = markedBlock{}
	for b := range r.blocks {
		if prev.route != nil && joined(data, prev, b) {
			out[len(out)-1].To = lineAt(b.end)
		} else {
			from := lineAt(b.begin)
			out = append(out, LineRange{From: from, To: lineAt(b.end), Route: *b.route})
		}
		prev = b
	}
	r.buf = nil
	return out
}

// markedBlock is a block between a begin mark and its end mark.
type markedBlock struct {
	begin, end int
	route      *model.RouteRef
}

// blocks yields the marked blocks in the order written (a begin not
// followed by its end marks nothing).
func (r *sourceRecorder) blocks(yield func(markedBlock) bool) {
	for i := 0; i+1 < len(r.marks); i++ {
		begin, end := r.marks[i], r.marks[i+1]
		if begin.route == nil || end.route != nil {
			continue
		}
		if !yield(markedBlock{begin: begin.offset, end: end.offset, route: begin.route}) {
			return
		}
		i++
	}
}

// joined reports whether block b continues block a's range: the same rule,
// and only blank space between them.
func joined(data []byte, a, b markedBlock) bool {
	return *a.route == *b.route && len(bytes.Trim(data[a.end:b.begin], " \n")) == 0
}
