// Package addresses writes the Gateway's status.addresses from the gateway
// Service: load-balancer ingress IPs and hostnames, else spec.externalIPs,
// else the cluster IPs. One replica writes, chosen by a Lease in the
// Gateway's namespace. It writes with server-side apply under its own field
// manager and sends only status.addresses, so the conditions and listeners
// the operator writes under another manager stay untouched.
package addresses
