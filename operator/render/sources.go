package render

import (
	"bytes"
	"slices"
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
// route starts and ends in the file being written, as line ranges built
// as the blocks end (lines counted once through the file). The templates
// call view.Begin and view.End, which write nothing, so the rendered
// bytes are the same with or without the recorder.
type sourceRecorder struct {
	buf *bytes.Buffer
	out []LineRange
	// open is the route of the block begun at openAt and not ended (nil:
	// none); last the route of out's last range, which ended at lastEnd.
	open, last      *model.RouteRef
	openAt, lastEnd int
	// line is the line number at byte pos of buf.
	line, pos int
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
		v.rec.open, v.rec.openAt = route, offset
	}
}

// End marks the end of the block last begun (its closing line).
func (v *view) End() string {
	if v.rec.buf != nil {
		v.rec.end(v.rec.buf.Len())
	}
	return ""
}

// end ends the open block at offset. Blocks of one rule with only blank
// lines between them (the exact and the prefix location of a path prefix,
// a rule's internal locations) make one range: a blank line is nobody's
// error, and a Gateway's thousands of routes keep half the ranges (the
// operator keeps the sources of its last configs).
func (r *sourceRecorder) end(offset int) {
	route := r.open
	if route == nil {
		return
	}
	r.open = nil
	data := r.buf.Bytes()
	if r.last != nil && *r.last == *route && r.lastEnd <= r.openAt && len(bytes.Trim(data[r.lastEnd:r.openAt], " \n")) == 0 {
		r.out[len(r.out)-1].To = r.lineAt(data, offset)
	} else {
		from := r.lineAt(data, r.openAt)
		r.out = append(r.out, LineRange{From: from, To: r.lineAt(data, offset), Route: *route})
	}
	r.last, r.lastEnd = route, offset
}

// lineAt is the line of data[offset], offset at or after the last asked.
func (r *sourceRecorder) lineAt(data []byte, offset int) int {
	r.line += bytes.Count(data[r.pos:offset], []byte{'\n'})
	r.pos = offset
	return r.line
}

// start begins recording for a file written into buf, whose last render
// had lastRanges ranges.
func (r *sourceRecorder) start(buf *bytes.Buffer, lastRanges int) {
	*r = sourceRecorder{buf: buf, line: 1}
	if lastRanges > 0 {
		r.out = make([]LineRange, 0, lastRanges+lastRanges/32+16)
	}
}

// ranges are the line ranges of the file just written, without spare
// capacity worth a copy (the operator keeps them).
func (r *sourceRecorder) ranges() []LineRange {
	out := r.out
	if cap(out)-len(out) > len(out)/8+16 {
		out = slices.Clone(out)
	}
	*r = sourceRecorder{}
	return out
}
