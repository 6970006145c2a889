// Package metricsauth owns who may read the operator's /metrics: a
// controller-runtime metrics filter that authenticates the bearer token with
// a TokenReview and authorizes the request's non-resource path and verb with
// a SubjectAccessReview, both answered by the API server, with the answers
// cached briefly. It does what controller-runtime's
// pkg/metrics/filters.WithAuthenticationAndAuthorization does, without
// importing k8s.io/apiserver (and cel-go with it), which added ~11 MB of
// code to the operator's resident memory.
package metricsauth
