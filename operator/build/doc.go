// Package build is the pure middle of the operator: from every Kubernetes
// object it is given (GatewayClasses, Gateways, HTTPRoutes, ReferenceGrants,
// Services, EndpointSlices, Secrets, Namespaces, GatewayParameters) it
// resolves and validates everything, and returns the data-plane model of
// each Gateway (operator/model) and every status the operator writes.
//
// It does no I/O and reads no clock: the same Input always gives the same
// Output. This is where a Gateway API field is checked, and where it is
// turned into a model field; operator/render then turns model fields into
// nginx directives.
package build
