package translate

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// pathKind is how a compiled match tests the path, in precedence order:
// exact paths rank first, then regular expressions, then prefixes.
type pathKind int

const (
	pathExact pathKind = iota
	pathRegex
	pathPrefix
)

// matchState is one validated HTTPRouteMatch (or the implicit "/" prefix
// of a rule without matches).
type matchState struct {
	index int
	kind  pathKind
	// path is the exact path, the prefix (without trailing "/", except
	// "/" itself) or the regular expression.
	path string
	// pathField is the field path of the path value.
	pathField  string
	hasMethod  bool
	numHeaders int
	numQuery   int
	// serviceLen and methodLen are a GRPCRoute match's precedence ranks:
	// the characters of its service and method (grpcEntryLess).
	serviceLen, methodLen int
	// conditions are the header, query and method tests (the path test
	// is expressed by the location, or added for regex paths).
	conditions []model.Condition
}

var httpMethods = map[gatewayv1.HTTPMethod]bool{
	gatewayv1.HTTPMethodGet: true, gatewayv1.HTTPMethodHead: true, gatewayv1.HTTPMethodPost: true,
	gatewayv1.HTTPMethodPut: true, gatewayv1.HTTPMethodDelete: true, gatewayv1.HTTPMethodConnect: true,
	gatewayv1.HTTPMethodOptions: true, gatewayv1.HTTPMethodTrace: true, gatewayv1.HTTPMethodPatch: true,
}

// compileMatches validates the matches of a rule. A rule without matches
// matches every request (PathPrefix "/").
func compileMatches(rule *gatewayv1.HTTPRouteRule, field string) ([]matchState, error) {
	if len(rule.Matches) == 0 {
		return []matchState{{kind: pathPrefix, path: "/"}}, nil
	}
	out := make([]matchState, 0, len(rule.Matches))
	for i := range rule.Matches {
		m, err := compileMatch(&rule.Matches[i], fmt.Sprintf("%s.matches[%d]", field, i))
		if err != nil {
			return nil, err
		}
		m.index = i
		out = append(out, m)
	}
	return out, nil
}

func compileMatch(m *gatewayv1.HTTPRouteMatch, field string) (matchState, error) {
	ms := matchState{kind: pathPrefix, path: "/", pathField: field + ".path.value"}
	if p := m.Path; p != nil {
		typ := gatewayv1.PathMatchPathPrefix
		if p.Type != nil {
			typ = *p.Type
		}
		value := "/"
		if p.Value != nil {
			value = *p.Value
		}
		pf := field + ".path.value"
		switch typ {
		case gatewayv1.PathMatchExact:
			decoded, err := matchPath(pf, value)
			if err != nil {
				return ms, err
			}
			ms.kind, ms.path = pathExact, decoded
		case gatewayv1.PathMatchPathPrefix:
			decoded, err := matchPath(pf, value)
			if err != nil {
				return ms, err
			}
			value = decoded
			// "/foo/" and "/foo" are the same element-wise prefix.
			if value != "/" {
				value = strings.TrimRight(value, "/")
				if value == "" {
					value = "/"
				}
			}
			ms.kind, ms.path = pathPrefix, value
		case gatewayv1.PathMatchRegularExpression:
			if err := checkRegex(pf, value); err != nil {
				return ms, err
			}
			ms.kind, ms.path = pathRegex, value
		default:
			return ms, fmt.Errorf("%s.path.type: %q is not supported", field, typ)
		}
	}
	headers := make([]headerMatch, len(m.Headers))
	for i, h := range m.Headers {
		headers[i] = headerMatch{name: string(h.Name), typ: h.Type, value: h.Value}
	}
	conditions, err := headerConditions(field, headers)
	if err != nil {
		return ms, err
	}
	ms.conditions = append(ms.conditions, conditions...)
	ms.numHeaders = len(conditions)
	seenQuery := map[string]bool{}
	for i, q := range m.QueryParams {
		qf := fmt.Sprintf("%s.queryParams[%d]", field, i)
		if err := checkHeaderName(qf+".name", string(q.Name)); err != nil {
			return ms, err
		}
		if seenQuery[string(q.Name)] {
			continue // the spec: later entries with an equivalent name are ignored
		}
		seenQuery[string(q.Name)] = true
		var typ *gatewayv1.HeaderMatchType
		if q.Type != nil {
			typ = ptrTo(gatewayv1.HeaderMatchType(*q.Type))
		}
		regex, err := matchValue(qf, typ, q.Value)
		if err != nil {
			return ms, err
		}
		ms.conditions = append(ms.conditions, model.Condition{Kind: model.ConditionQueryParam, Name: string(q.Name), Value: q.Value, Regex: regex, Field: qf + ".value"})
	}
	ms.numQuery = len(m.QueryParams)
	if m.Method != nil {
		if !httpMethods[*m.Method] {
			return ms, fmt.Errorf("%s.method: %q is not a supported method", field, *m.Method)
		}
		ms.hasMethod = true
		ms.conditions = append(ms.conditions, model.Condition{Kind: model.ConditionMethod, Value: string(*m.Method), Field: field + ".method"})
	}
	return ms, nil
}

// matchPath validates an Exact or PathPrefix value and returns the path
// nginx compares requests against: nginx matches locations (and $uri) on
// the decoded, normalized request path, so "/caf%C3%A9" must become
// "/café" to ever match. The Gateway API matches paths after
// normalization, which decodes escapes the same way. Escapes that cannot
// survive normalization are refused: control characters (nginx answers
// 400), bytes that are not UTF-8, and "." segments or "//" that nginx
// would merge away.
func matchPath(field, p string) (string, error) {
	if err := checkPath(field, p); err != nil {
		return "", err
	}
	if !strings.Contains(p, "%") {
		return p, nil
	}
	decoded, err := url.PathUnescape(p)
	if err != nil {
		return "", fmt.Errorf("%s: %q: %v", field, p, err)
	}
	for i := 0; i < len(decoded); i++ {
		if c := decoded[i]; c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("%s: %q decodes to control character %q", field, p, c)
		}
	}
	if !utf8.ValidString(decoded) {
		return "", fmt.Errorf("%s: %q does not decode to UTF-8", field, p)
	}
	for _, bad := range []string{"//", "/./", "/../"} {
		if strings.Contains(decoded, bad) {
			return "", fmt.Errorf("%s: %q decodes to a path with %q, which nginx normalizes away", field, p, bad)
		}
	}
	if strings.HasSuffix(decoded, "/.") || strings.HasSuffix(decoded, "/..") {
		return "", fmt.Errorf("%s: %q decodes to a path ending with \"/.\" or \"/..\", which nginx normalizes away", field, p)
	}
	return decoded, nil
}

// headerCondition validates the value of header match hf (name already
// checked and lower-cased) and returns its condition.
func headerCondition(hf, name string, typ *gatewayv1.HeaderMatchType, value string) (model.Condition, error) {
	regex, err := matchValue(hf, typ, value)
	if err != nil {
		return model.Condition{}, err
	}
	return model.Condition{Kind: model.ConditionHeader, Name: name, Value: value, Regex: regex, Field: hf + ".value"}, nil
}

// matchValue validates a header or query parameter value; it reports
// whether the value is a regular expression.
func matchValue(field string, typ *gatewayv1.HeaderMatchType, value string) (bool, error) {
	t := gatewayv1.HeaderMatchExact
	if typ != nil {
		t = *typ
	}
	switch t {
	case gatewayv1.HeaderMatchExact:
		if value == "" {
			return false, fmt.Errorf("%s.value: must not be empty", field)
		}
		return false, checkNoControl(field+".value", value)
	case gatewayv1.HeaderMatchRegularExpression:
		return true, checkRegex(field+".value", value)
	}
	return false, fmt.Errorf("%s.type: %q is not supported", field, t)
}

// exactPathCondition expresses an exact path match as an anchored regular
// expression, used when an exact path shares its nginx location with a
// prefix of the same path.
func exactPathCondition(path, field string) model.Condition {
	return model.Condition{Kind: model.ConditionPathRegex, Value: "^" + regexp.QuoteMeta(path) + "$", Regex: true, Field: field}
}

// prefixCovers reports whether the element-wise prefix covers path.
func prefixCovers(prefix, path string) bool {
	if prefix == "/" {
		return true
	}
	return path == prefix || (strings.HasPrefix(path, prefix) && path[len(prefix)] == '/')
}

// headerMatch is one header match of any route kind.
type headerMatch struct {
	name  string
	typ   *gatewayv1.HeaderMatchType
	value string
}

// headerConditions validates a match's header matches (field is the
// match's field path) and returns their conditions. Later entries with an
// equivalent (case-insensitive) name are ignored, as the spec says for
// HTTPRoute and GRPCRoute alike.
func headerConditions(field string, headers []headerMatch) ([]model.Condition, error) {
	var out []model.Condition
	seen := map[string]bool{}
	for i, h := range headers {
		hf := fmt.Sprintf("%s.headers[%d]", field, i)
		if err := checkHeaderName(hf+".name", h.name); err != nil {
			return nil, err
		}
		name := strings.ToLower(h.name)
		if seen[name] {
			continue
		}
		seen[name] = true
		c, err := headerCondition(hf, name, h.typ, h.value)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
