package translate

import (
	"fmt"
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// maxRetryAttempts bounds retry.attempts: each retry is one more location
// in the config (see operator/render/retry.go).
const maxRetryAttempts = 10

// defaultRetryAttempts is the number of retries of a rule whose retry
// stanza leaves attempts unset (the spec leaves it to the implementation).
const defaultRetryAttempts = 1

// compileRetry validates a rule's retry stanza. What nginx cannot honour is
// refused, naming the field: a backoff (nginx cannot wait between tries),
// and a retry on a rule with a request timeout (nginx cannot bound the
// total time of the tries; each try has the backendRequest timeout).
func compileRetry(r *gatewayv1.HTTPRouteRetry, timeouts model.Timeouts, field string) (*model.Retry, error) {
	if r == nil {
		return nil, nil
	}
	if r.Backoff != nil && string(*r.Backoff) != "0s" {
		return nil, fmt.Errorf("%s.backoff: not supported: nginx cannot wait between tries", field)
	}
	if timeouts.RequestMillis > 0 {
		return nil, fmt.Errorf("%s: not supported together with timeouts.request: nginx cannot bound the total time of the tries (use timeouts.backendRequest, which bounds each try)", field)
	}
	out := &model.Retry{Attempts: defaultRetryAttempts}
	if r.Attempts != nil {
		if *r.Attempts < 1 || *r.Attempts > maxRetryAttempts {
			return nil, fmt.Errorf("%s.attempts: %d is not within 1..%d", field, *r.Attempts, maxRetryAttempts)
		}
		out.Attempts = *r.Attempts
	}
	for i, c := range r.Codes {
		if c < 400 || c > 599 {
			return nil, fmt.Errorf("%s.codes[%d]: %d is not within 400..599", field, i, c)
		}
		if !slices.Contains(out.Codes, int(c)) {
			out.Codes = append(out.Codes, int(c))
		}
	}
	slices.Sort(out.Codes)
	return out, nil
}
