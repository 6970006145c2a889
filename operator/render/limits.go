package render

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Limits of nginx's configuration parser, checked on what is written.
//
// nginx reads each token (a directive name, an argument, a quoted string
// with its quotes) into a buffer of NGX_CONF_BUFFER (4096) bytes and
// refuses the whole file ("too long parameter") when one does not fit. A
// user value grows when it is escaped (`\` and `"` double, a `$` becomes
// ${ngo_dollar}, regex escaping doubles again) or joined with others, so
// the check runs on the token as written, and a value that would break the
// limit is not written: the render step reports a Refusal naming the route
// and the field instead, and the caller leaves the route out
// (operator/pipeline).

// MaxToken is the longest token nginx's parser takes, in bytes as
// written (quotes and escapes included).
const MaxToken = 4095

// MaxRouteValueBytes bounds what one route's values take in the config:
// the sum of the tokens written from its fields, in bytes as written. It
// keeps one route from filling a Gateway's ConfigMap on its own.
const MaxRouteValueBytes = 256 << 10

// maxComment bounds a comment: nginx reads a comment as one token too.
const maxComment = 256

// Refusal is a route the render step did not write, and why.
type Refusal struct {
	Kind, Namespace, Name string
	// Message names the field and the limit, e.g.
	// "spec.rules[0].filters[1].responseHeaderModifier.set[0].value: 4,400 bytes
	// once escaped for nginx; nginx takes at most 4,095".
	Message string
}

// RefusedError is Render's error when some routes cannot be written; the
// other routes of the Gateway are fine. Leave the routes out (translate
// Input.Refused) and render again.
type RefusedError struct {
	Refusals []Refusal // sorted by kind, namespace, name
}

func (e *RefusedError) Error() string {
	parts := make([]string, len(e.Refusals))
	for i, r := range e.Refusals {
		parts[i] = fmt.Sprintf("%s %s/%s: %s", r.Kind, r.Namespace, r.Name, r.Message)
	}
	return "render: routes refused: " + strings.Join(parts, "; ")
}

type routeID struct{ kind, namespace, name string }

func routeOf(rule *model.Rule) routeID {
	return routeID{rule.Route.Kind, rule.Route.Namespace, rule.Route.Name}
}

// value checks one token written from a field of rule's route and returns
// it. A token over MaxToken refuses the route (the first reason is kept);
// the caller may still use the token, since a refused route's files are
// never used.
func (r *renderer) value(rule *model.Rule, field, tok string) string {
	id := routeOf(rule)
	r.routeBytes[id] += len(tok)
	if len(tok) > MaxToken {
		if field == "" {
			field = "a value of " + r.ruleComment(rule)
		}
		r.refuse(id, fmt.Sprintf("%s: %s bytes once escaped for nginx; nginx takes at most %s", field, grouped(len(tok)), grouped(MaxToken)))
	}
	return tok
}

// refuse records the first reason a route is refused.
func (r *renderer) refuse(id routeID, msg string) {
	if _, ok := r.refused[id]; !ok {
		r.refused[id] = msg
	}
}

// refusedError returns the refusals so far, with routes over
// MaxRouteValueBytes, or nil.
func (r *renderer) refusedError() error {
	for id, n := range r.routeBytes {
		if n > MaxRouteValueBytes {
			r.refuse(id, fmt.Sprintf("the route's values take %s bytes in the nginx config; a route may take at most %s", grouped(n), grouped(MaxRouteValueBytes)))
		}
	}
	if len(r.refused) == 0 {
		return nil
	}
	e := &RefusedError{}
	for id, msg := range r.refused {
		e.Refusals = append(e.Refusals, Refusal{Kind: id.kind, Namespace: id.namespace, Name: id.name, Message: msg})
	}
	slices.SortFunc(e.Refusals, func(a, b Refusal) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return e
}

// grouped formats n with thousands separators ("4,095").
func grouped(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// tokenEnd are the bytes that end an unquoted token (a table: checkTokens
// reads every byte of every file).
var tokenEnd = [256]bool{' ': true, '\t': true, '\r': true, '\n': true, ';': true, '{': true, '}': true}

// checkTokens is the safety net behind the per-field checks: it reads
// every file as nginx's parser does and fails on a token nginx would
// refuse. Such a token is a bug of the render step (a value written
// without its check), so it is an error, not a refusal.
func checkTokens(name string, conf []byte) error {
	for i := 0; i < len(conf); {
		c := conf[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '{' || c == '}':
			i++
			continue
		case c == '#':
			if n := bytes.IndexByte(conf[i:], '\n'); n >= 0 {
				i += n
			} else {
				i = len(conf)
			}
		case c == '"' || c == '\'':
			i++
			for i < len(conf) && conf[i] != c {
				if conf[i] == '\\' {
					i++
				}
				i++
			}
			i++
		default:
			for i < len(conf) && !tokenEnd[conf[i]] {
				if conf[i] == '\\' {
					i++
				}
				i++
			}
		}
		if n := min(i, len(conf)) - start; n > MaxToken {
			return fmt.Errorf("render: %s has a token of %s bytes at byte %d (nginx takes at most %s)", name, grouped(n), start, grouped(MaxToken))
		}
	}
	return nil
}
