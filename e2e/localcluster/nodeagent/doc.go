// Package nodeagent plays the kubelet for the local cluster: it registers a
// Ready Node, binds pending pods to it, and runs them. Each pod gets a
// network namespace with an address on a bridge the agent owns (no route
// beyond it, no IP forwarding); each container is a process in that
// namespace and in its own mount namespace, chrooted into an overlay of its
// image's root filesystem (ImageRule maps images to local programs), with
// volumes laid out the kubelet's way and bind-mounted at their paths. It
// runs probes, restarts containers, writes pod status, serves container
// logs to the API server, and gives LoadBalancer Services an address on the
// bridge with a user-space proxy to their ready endpoints: the address a
// Service asks for when its pools have it free, else none (refused with an
// event, as MetalLB does).
//
// Programs that start an agent must call RunContainerInitIfRequested first
// thing in main (and in TestMain): containers are started by re-executing
// the program as a small init helper.
package nodeagent
