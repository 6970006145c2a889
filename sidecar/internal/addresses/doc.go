// Package addresses writes the Gateway's status.addresses from the gateway
// Service: load-balancer ingress IPs and hostnames, else spec.externalIPs,
// else the cluster IPs. Every replica of the gateway writes, without an
// election: each applies with server-side apply under the one field manager
// dataplane.SidecarFieldManager, sends only status.addresses, and applies
// only when the Gateway it sees shows other addresses. The conditions and
// listeners the operator writes under another manager stay untouched.
package addresses
