package translate

import (
	"fmt"
	"regexp"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// routeError is a validation failure that makes a route not Accepted.
type routeError struct {
	reason  gatewayv1.RouteConditionReason
	message string
}

func (e *routeError) Error() string { return e.message }

func unsupported(err error) *routeError {
	return &routeError{reason: gatewayv1.RouteReasonUnsupportedValue, message: err.Error()}
}

// ruleFilters are a rule's validated filters. Mirrors keep their backend
// references: those are resolved with the backends.
type ruleFilters struct {
	requestHeaders  model.HeaderModifier
	responseHeaders model.HeaderModifier
	rewrite         *model.Rewrite
	redirect        *model.Redirect
	mirrors         []mirrorSpec
	cors            *model.CORS
}

// mirrorSpec is a RequestMirror filter before its backend is resolved.
type mirrorSpec struct {
	field       string
	ref         gatewayv1.BackendObjectReference
	numerator   int32
	denominator int32
}

// needsPrefix reports whether a path modifier needs the matched prefix.
func (f *ruleFilters) needsPrefix() bool {
	return (f.rewrite != nil && f.rewrite.Path != nil && f.rewrite.Path.Kind == model.RewritePrefix) ||
		(f.redirect != nil && f.redirect.Path != nil && f.redirect.Path.Kind == model.RewritePrefix)
}

// compileFilters validates the filters of a rule.
func compileFilters(filters []gatewayv1.HTTPRouteFilter, field string) (ruleFilters, *routeError) {
	var out ruleFilters
	seen := map[gatewayv1.HTTPRouteFilterType]bool{}
	for i := range filters {
		f := &filters[i]
		ff := fmt.Sprintf("%s.filters[%d]", field, i)
		if f.Type != gatewayv1.HTTPRouteFilterRequestMirror {
			if seen[f.Type] {
				return out, unsupported(fmt.Errorf("%s.type: %s may appear only once per rule", ff, f.Type))
			}
			seen[f.Type] = true
		}
		var err error
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			out.requestHeaders, err = compileHeaderFilter(f.RequestHeaderModifier, ff+".requestHeaderModifier")
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			out.responseHeaders, err = compileHeaderFilter(f.ResponseHeaderModifier, ff+".responseHeaderModifier")
		case gatewayv1.HTTPRouteFilterRequestRedirect:
			out.redirect, err = compileRedirect(f.RequestRedirect, ff+".requestRedirect")
		case gatewayv1.HTTPRouteFilterURLRewrite:
			out.rewrite, err = compileRewrite(f.URLRewrite, ff+".urlRewrite")
		case gatewayv1.HTTPRouteFilterRequestMirror:
			var m mirrorSpec
			m, err = compileMirror(f.RequestMirror, ff+".requestMirror")
			if err == nil && m.numerator > 0 {
				out.mirrors = append(out.mirrors, m)
			}
		case gatewayv1.HTTPRouteFilterCORS:
			out.cors, err = compileCORS(f.CORS, ff+".cors")
		default:
			err = fmt.Errorf("%s.type: filter %q is not supported", ff, f.Type)
		}
		if err != nil {
			return out, unsupported(err)
		}
	}
	if out.redirect != nil && out.rewrite != nil {
		return out, &routeError{
			reason:  gatewayv1.RouteReasonIncompatibleFilters,
			message: field + ".filters: RequestRedirect and URLRewrite cannot be used together",
		}
	}
	return out, nil
}

// compileBackendFilters validates the filters of a backendRef: only header
// modifiers are supported there.
func compileBackendFilters(filters []gatewayv1.HTTPRouteFilter, field string) (req, resp model.HeaderModifier, rerr *routeError) {
	seen := map[gatewayv1.HTTPRouteFilterType]bool{}
	for i := range filters {
		f := &filters[i]
		ff := fmt.Sprintf("%s.filters[%d]", field, i)
		if seen[f.Type] {
			return req, resp, unsupported(fmt.Errorf("%s.type: %s may appear only once per backendRef", ff, f.Type))
		}
		seen[f.Type] = true
		var err error
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			req, err = compileHeaderFilter(f.RequestHeaderModifier, ff+".requestHeaderModifier")
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			resp, err = compileHeaderFilter(f.ResponseHeaderModifier, ff+".responseHeaderModifier")
		default:
			err = fmt.Errorf("%s.type: filter %q is not supported on a backendRef", ff, f.Type)
		}
		if err != nil {
			return req, resp, unsupported(err)
		}
	}
	return req, resp, nil
}

func compileHeaderFilter(h *gatewayv1.HTTPHeaderFilter, field string) (model.HeaderModifier, error) {
	var out model.HeaderModifier
	if h == nil {
		return out, fmt.Errorf("%s: required by the filter type", field)
	}
	var err error
	if out.Set, err = compileHeaders(h.Set, field+".set"); err != nil {
		return out, err
	}
	if out.Add, err = compileHeaders(h.Add, field+".add"); err != nil {
		return out, err
	}
	seen := map[string]bool{}
	for i, name := range h.Remove {
		if err := checkHeaderName(fmt.Sprintf("%s.remove[%d]", field, i), name); err != nil {
			return out, err
		}
		if seen[strings.ToLower(name)] {
			return out, fmt.Errorf("%s.remove[%d]: %q is listed twice", field, i, name)
		}
		seen[strings.ToLower(name)] = true
		out.Remove = append(out.Remove, name)
	}
	return out, nil
}

func compileHeaders(hs []gatewayv1.HTTPHeader, field string) ([]model.Header, error) {
	var out []model.Header
	seen := map[string]bool{}
	for i, h := range hs {
		hf := fmt.Sprintf("%s[%d]", field, i)
		if err := checkHeaderName(hf+".name", string(h.Name)); err != nil {
			return nil, err
		}
		if seen[strings.ToLower(string(h.Name))] {
			return nil, fmt.Errorf("%s.name: %q is listed twice", hf, h.Name)
		}
		seen[strings.ToLower(string(h.Name))] = true
		if h.Value == "" {
			return nil, fmt.Errorf("%s.value: must not be empty", hf)
		}
		if err := checkNoControl(hf+".value", h.Value); err != nil {
			return nil, err
		}
		out = append(out, model.Header{Name: string(h.Name), Value: h.Value, Field: hf})
	}
	return out, nil
}

func compilePathModifier(p *gatewayv1.HTTPPathModifier, field string) (*model.PathRewrite, error) {
	if p == nil {
		return nil, nil
	}
	switch p.Type {
	case gatewayv1.FullPathHTTPPathModifier:
		if p.ReplaceFullPath == nil {
			return nil, fmt.Errorf("%s.replaceFullPath: required for type ReplaceFullPath", field)
		}
		if err := checkReplacementPath(field+".replaceFullPath", *p.ReplaceFullPath); err != nil {
			return nil, err
		}
		return &model.PathRewrite{Kind: model.RewriteFullPath, Value: *p.ReplaceFullPath, Field: field}, nil
	case gatewayv1.PrefixMatchHTTPPathModifier:
		if p.ReplacePrefixMatch == nil {
			return nil, fmt.Errorf("%s.replacePrefixMatch: required for type ReplacePrefixMatch", field)
		}
		if err := checkReplacementPath(field+".replacePrefixMatch", *p.ReplacePrefixMatch); err != nil {
			return nil, err
		}
		return &model.PathRewrite{Kind: model.RewritePrefix, Value: *p.ReplacePrefixMatch, Field: field}, nil
	}
	return nil, fmt.Errorf("%s.type: %q is not supported", field, p.Type)
}

// checkReplacementPath accepts a path modifier's value: empty (the spec's
// table gives it a meaning: "/" for a full path, strip the prefix for a
// prefix) or a valid path.
func checkReplacementPath(field, p string) error {
	if p == "" {
		return nil
	}
	return checkPath(field, p)
}

var redirectStatusCodes = map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true}

// compileRedirect validates a RequestRedirect. When a scheme is given
// without a port, Port is set to the scheme's well-known port (the spec's
// rule); the render step leaves a port out of Location when it is the
// default port of the redirect's scheme.
func compileRedirect(r *gatewayv1.HTTPRequestRedirectFilter, field string) (*model.Redirect, error) {
	if r == nil {
		return nil, fmt.Errorf("%s: required by the filter type", field)
	}
	out := &model.Redirect{StatusCode: 302, Field: field}
	if r.Scheme != nil {
		switch *r.Scheme {
		case "http", "https":
			out.Scheme = *r.Scheme
		default:
			return nil, fmt.Errorf("%s.scheme: %q is not supported (http, https)", field, *r.Scheme)
		}
	}
	if r.Hostname != nil {
		if err := checkHostname(field+".hostname", string(*r.Hostname), false); err != nil {
			return nil, err
		}
		out.Hostname = string(*r.Hostname)
	}
	if r.Port != nil {
		if *r.Port < 1 || *r.Port > 65535 {
			return nil, fmt.Errorf("%s.port: %d is not a valid port", field, *r.Port)
		}
		out.Port = ptrTo(*r.Port)
	} else if out.Scheme == "http" {
		out.Port = ptrTo(int32(80))
	} else if out.Scheme == "https" {
		out.Port = ptrTo(int32(443))
	}
	if r.StatusCode != nil {
		if !redirectStatusCodes[*r.StatusCode] {
			return nil, fmt.Errorf("%s.statusCode: %d is not supported (301, 302, 303, 307, 308)", field, *r.StatusCode)
		}
		out.StatusCode = *r.StatusCode
	}
	var err error
	if out.Path, err = compilePathModifier(r.Path, field+".path"); err != nil {
		return nil, err
	}
	return out, nil
}

func compileRewrite(r *gatewayv1.HTTPURLRewriteFilter, field string) (*model.Rewrite, error) {
	if r == nil {
		return nil, fmt.Errorf("%s: required by the filter type", field)
	}
	out := &model.Rewrite{Field: field}
	if r.Hostname != nil {
		if err := checkHostname(field+".hostname", string(*r.Hostname), false); err != nil {
			return nil, err
		}
		out.Hostname = string(*r.Hostname)
	}
	var err error
	if out.Path, err = compilePathModifier(r.Path, field+".path"); err != nil {
		return nil, err
	}
	return out, nil
}

// compileMirror validates percent or fraction; the result's numerator is 0
// when nothing is mirrored.
func compileMirror(m *gatewayv1.HTTPRequestMirrorFilter, field string) (mirrorSpec, error) {
	if m == nil {
		return mirrorSpec{}, fmt.Errorf("%s: required by the filter type", field)
	}
	out := mirrorSpec{field: field + ".backendRef", ref: m.BackendRef, numerator: 100, denominator: 100}
	switch {
	case m.Percent != nil && m.Fraction != nil:
		return out, fmt.Errorf("%s: percent and fraction are mutually exclusive", field)
	case m.Percent != nil:
		if *m.Percent < 0 || *m.Percent > 100 {
			return out, fmt.Errorf("%s.percent: %d is not within 0..100", field, *m.Percent)
		}
		out.numerator = *m.Percent
	case m.Fraction != nil:
		out.numerator = m.Fraction.Numerator
		if m.Fraction.Denominator != nil {
			out.denominator = *m.Fraction.Denominator
		}
		if out.denominator < 1 || out.numerator < 0 || out.numerator > out.denominator {
			return out, fmt.Errorf("%s.fraction: %d/%d is not a fraction within 0..1", field, out.numerator, out.denominator)
		}
	}
	if g := gcd(out.numerator, out.denominator); g > 1 {
		out.numerator /= g
		out.denominator /= g
	}
	return out, nil
}

func gcd(a, b int32) int32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

var corsOriginPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+\-.]*://[A-Za-z0-9*.\-]+(:[0-9]{1,5})?$`)

const defaultCORSMaxAge = 5

func compileCORS(c *gatewayv1.HTTPCORSFilter, field string) (*model.CORS, error) {
	if c == nil {
		return nil, fmt.Errorf("%s: required by the filter type", field)
	}
	out := &model.CORS{MaxAgeSeconds: c.MaxAge, Field: field}
	if out.MaxAgeSeconds == 0 {
		out.MaxAgeSeconds = defaultCORSMaxAge
	}
	if out.MaxAgeSeconds < 0 {
		return nil, fmt.Errorf("%s.maxAge: must not be negative", field)
	}
	if c.AllowCredentials != nil {
		out.AllowCredentials = *c.AllowCredentials
	}
	for i, o := range c.AllowOrigins {
		of := fmt.Sprintf("%s.allowOrigins[%d]", field, i)
		if err := checkNoControl(of, string(o)); err != nil {
			return nil, err
		}
		if o != "*" && !corsOriginPattern.MatchString(string(o)) {
			return nil, fmt.Errorf("%s: %q is not \"*\" or scheme://host[:port]", of, o)
		}
		out.AllowOrigins = append(out.AllowOrigins, string(o))
	}
	for i, m := range c.AllowMethods {
		if m != "*" && !httpMethods[gatewayv1.HTTPMethod(m)] {
			return nil, fmt.Errorf("%s.allowMethods[%d]: %q is not a supported method", field, i, m)
		}
		out.AllowMethods = append(out.AllowMethods, string(m))
	}
	for i, h := range c.AllowHeaders {
		if err := checkHeaderName(fmt.Sprintf("%s.allowHeaders[%d]", field, i), string(h)); err != nil {
			return nil, err
		}
		out.AllowHeaders = append(out.AllowHeaders, string(h))
	}
	for i, h := range c.ExposeHeaders {
		if err := checkHeaderName(fmt.Sprintf("%s.exposeHeaders[%d]", field, i), string(h)); err != nil {
			return nil, err
		}
		out.ExposeHeaders = append(out.ExposeHeaders, string(h))
	}
	return out, nil
}
