// Package translate is the pure middle of the operator: from every Kubernetes
// object it is given (GatewayClasses, Gateways, HTTPRoutes, ReferenceGrants,
// Services, EndpointSlices, Secrets, Namespaces, GatewayParameters) it
// resolves and validates everything, and returns the data-plane model of
// each Gateway (operator/model) and every status the operator writes.
//
// It does no I/O and reads no clock: the same Input always gives the same
// Output, whatever the order of its slices. This is where a Gateway API
// field is checked, and where it is turned into a model field;
// operator/render then turns model fields into nginx directives.
//
// Layout: translate.go runs the steps in order: GatewayClasses
// (gatewayclass.go), Gateways and their listeners (gateway.go,
// listeners.go; addresses.go for spec.addresses) with those of the
// ListenerSets they allow (listenersets.go, merged after the Gateway's own
// in the spec's order), then every route kind, then each accepted Gateway's model.
// A route kind is one processor (routekind.go: routeKind): HTTPRoute
// (httproute.go validates a route, httpservers.go adds the attached
// routes to the model; matches.go, filters.go, precedence.go are its
// parts) and GRPCRoute (grpcroute.go: methods become /service/method path
// matches, served by the same HTTP servers; kindconflicts.go settles an
// HTTPRoute and a GRPCRoute sharing a hostname on a listener). The parts every kind shares live once: attach.go (parentRefs,
// listener selection, hostname intersection, the route's status entries),
// backends.go (Service references and endpoints), refgrant.go
// (ReferenceGrants), certificates.go (listener certificates in the model).
// inputkey.go keys an Input by its objects' versions, so that the
// reconciler can skip a translation whose Input did not change, and
// Reendpoint (translate.go) redoes only the endpoints when nothing but
// EndpointSlices changed.
// Translation decides Accepted, ResolvedRefs and Conflicted; Programmed is
// composed by the controller from ProgrammableListeners and what the gateway
// pods report.
//
// Decisions worth knowing:
//   - A route is taken whole or not at all: any rule, match or filter that
//     fails validation makes the route Accepted False (UnsupportedValue, or
//     IncompatibleFilters) on every parent, with a message naming the field
//     (e.g. spec.rules[0].filters[1].requestHeaderModifier.set[0].value).
//     Unresolved backend references do not: they give ResolvedRefs False
//     and their share of traffic answers 500.
//   - Regular expressions (path, header and query matches) use RE2 syntax,
//     checked with Go's regexp: for what RE2 accepts, nginx's PCRE means
//     the same thing. Backreferences and lookaround are refused.
//   - Precedence across the routes of one server: hostname specificity,
//     then exact path, regular expression, longest prefix, method, most
//     header matches, most query matches, oldest route, namespace/name,
//     rule order, match order (see entryLess).
//   - Listener isolation: a request belongs to the most specific listener
//     whose hostname matches it, so a server takes only the routes of that
//     listener; routes of a listener without hostname serve on the port's
//     default server (and on servers of route hostnames no more specific
//     listener claims), never on another listener's hostname.
//   - Exact and PathPrefix values are decoded into the model ("/caf%C3%A9"
//     is "/café"): nginx matches the decoded, normalized path. Escapes of
//     control characters, non-UTF-8 bytes and "." segments are refused.
//   - Conditions carry no LastTransitionTime (no clock here): the
//     reconciler stamps it when it writes them.
//   - sessionPersistence of a rule is not implemented and is ignored (its
//     feature is not in SupportedFeatures). Retry is (retry.go).
package translate
