package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// maxNameLength is the longest DNS-1035 label (Service names) and label value.
const maxNameLength = 63

// Name is the name of every object owned by the Gateway gatewayName:
// "<gateway>-nginx". Gateway names are DNS subdomains (up to 253 characters,
// dots allowed, may start with a digit) while a Service name must be a
// DNS-1035 label, so a name that does not fit is cleaned, cut, and suffixed
// with a hash of the Gateway name to stay unique.
func Name(gatewayName string) string {
	base := gatewayName + "-nginx"
	if isDNS1035Label(base) {
		return base
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(gatewayName))
	if clean == "" || clean[0] < 'a' || clean[0] > 'z' {
		clean = "gw-" + clean
	}
	suffix := "-nginx-" + shortHash(gatewayName)
	if len(clean)+len(suffix) > maxNameLength {
		clean = clean[:maxNameLength-len(suffix)]
	}
	return strings.TrimRight(clean, "-") + suffix
}

// ReportName is the name of the Gateway's report ConfigMap, which its
// sidecars write (dataplane.PodReport): Name + "-report". ConfigMap names
// are DNS subdomains, so the longer name still fits.
func ReportName(gatewayName string) string {
	return Name(gatewayName) + "-report"
}

// EndpointsName is the name of the Gateway's endpoints ConfigMap, which
// the operator writes and the sidecars watch (dataplane.EnvEndpointsConfigMap):
// Name + "-endpoints".
func EndpointsName(gatewayName string) string {
	return Name(gatewayName) + "-endpoints"
}

// LabelValue makes s usable as a label value (at most 63 characters): a
// longer value is cut and suffixed with its hash, so two long Gateway names
// never share a label value by accident.
func LabelValue(s string) string {
	if len(s) <= maxNameLength {
		return s
	}
	suffix := "-" + shortHash(s)
	cut := strings.TrimRight(s[:maxNameLength-len(suffix)], "-._")
	return cut + suffix
}

// SelectorLabels select the pods of one Gateway. They are the Deployment's
// immutable selector, so they hold only the Gateway's identity.
func SelectorLabels(gatewayNamespace, gatewayName string) map[string]string {
	return map[string]string{
		dataplane.LabelGatewayName:      LabelValue(gatewayName),
		dataplane.LabelGatewayNamespace: gatewayNamespace,
	}
}

// shortHash is 8 hex digits (32 bits) of SHA-256: it only keeps apart
// names that had to be cut to fit 63 characters (a Service name, a label
// value), where a full hash (64 characters) would not fit at all. It keys
// no folder or cache; a collision needs two Gateways of one namespace with
// long names alike up to the cut, and the API server then refuses the
// second Gateway's objects as already owned by the first.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

func isDNS1035Label(s string) bool {
	if len(s) == 0 || len(s) > maxNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' || c == '-':
			if i == 0 || (c == '-' && i == len(s)-1) {
				return false
			}
		default:
			return false
		}
	}
	return true
}
