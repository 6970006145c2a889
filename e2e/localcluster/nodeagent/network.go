package nodeagent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
)

// NetworkConfig is the agent's private layer-2 network: one Linux bridge,
// the host's address on it, and the ranges pods and LoadBalancer Services
// take their addresses from. Nothing routes beyond the bridge: pods get no
// default route and the agent never enables IP forwarding.
type NetworkConfig struct {
	// Prefix names every link and network namespace the agent creates, so a
	// sweep can find leftovers of a crashed run (at most 6 characters).
	Prefix string
	// Bridge is the bridge's link name.
	Bridge string
	// Subnet is the bridge's subnet; Gateway the host's address in it.
	Subnet  *net.IPNet
	Gateway net.IP
	// Pod and LoadBalancer address ranges, inclusive, inside Subnet.
	PodFirst, PodLast net.IP
	LBFirst, LBLast   net.IP
	// LBRequestFirst and LBRequestLast are LoadBalancer addresses given only
	// to a Service that asks for one of them (spec.loadBalancerIP or
	// MetalLB's loadBalancerIPs annotation), like a MetalLB pool with
	// autoAssign: false: an address a test asks for is never taken by
	// another Service first. Optional.
	LBRequestFirst, LBRequestLast net.IP
}

// DefaultNetwork uses 198.18.0.0/24 (RFC 2544, reserved for benchmarking) so
// nothing collides with a real network: host .1, pods .10–.199, load
// balancers .200–.250 assigned to any Service, .251–.253 only on request
// (.254 is in no pool: LBRefusedAddress).
func DefaultNetwork() NetworkConfig {
	_, subnet, _ := net.ParseCIDR("198.18.0.0/24")
	return NetworkConfig{
		Prefix:   "lclu",
		Bridge:   "lclu0",
		Subnet:   subnet,
		Gateway:  net.ParseIP("198.18.0.1").To4(),
		PodFirst: net.ParseIP("198.18.0.10").To4(),
		PodLast:  net.ParseIP("198.18.0.199").To4(),
		LBFirst:  net.ParseIP("198.18.0.200").To4(),
		LBLast:   net.ParseIP("198.18.0.250").To4(),

		LBRequestFirst: net.ParseIP("198.18.0.251").To4(),
		LBRequestLast:  net.ParseIP("198.18.0.253").To4(),
	}
}

// LBRefusedAddress is an address of the subnet in no pool (the one after
// the last LoadBalancer address): the load balancer refuses a Service that
// asks for it, as a real one refuses an address outside its pools.
func (n NetworkConfig) LBRefusedAddress() net.IP {
	last := n.LBLast
	if n.LBRequestLast != nil && ipToU32(n.LBRequestLast) > ipToU32(last) {
		last = n.LBRequestLast
	}
	return u32ToIP(ipToU32(last) + 1)
}

func (n NetworkConfig) prefixLen() int {
	ones, _ := n.Subnet.Mask.Size()
	return ones
}

// runIP runs the ip tool and returns its error with its output.
func runIP(args ...string) error {
	cmd := exec.Command("ip", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// CreateBridge creates the bridge with the host's gateway address. The API
// server binds to that address, so it comes first.
func CreateBridge(n NetworkConfig) error {
	if err := runIP("link", "add", n.Bridge, "type", "bridge"); err != nil {
		return err
	}
	addr := fmt.Sprintf("%s/%d", n.Gateway, n.prefixLen())
	if err := runIP("addr", "add", addr, "dev", n.Bridge); err != nil {
		return err
	}
	return runIP("link", "set", n.Bridge, "up")
}

// DeleteBridge removes the bridge (and with it every address on it).
func DeleteBridge(n NetworkConfig) error {
	return runIP("link", "del", n.Bridge)
}

// ipPool hands out addresses of an inclusive IPv4 range, lowest free first.
type ipPool struct {
	mu          sync.Mutex
	first, last uint32
	used        map[uint32]string // address → owner
	// rotate: hand out the next free address after the last one given
	// (pods), so a deleted pod's address is not reused at once while
	// clients may still hold connections or neighbour entries for it.
	rotate bool
	next   uint32
}

func newIPPool(first, last net.IP) *ipPool {
	return &ipPool{first: ipToU32(first), last: ipToU32(last), used: map[uint32]string{}}
}

func newRotatingIPPool(first, last net.IP) *ipPool {
	p := newIPPool(first, last)
	p.rotate, p.next = true, p.first
	return p
}

func ipToU32(ip net.IP) uint32 {
	v4 := ip.To4()
	return uint32(v4[0])<<24 | uint32(v4[1])<<16 | uint32(v4[2])<<8 | uint32(v4[3])
}

func u32ToIP(v uint32) net.IP {
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4()
}

// allocate returns owner's address, the wanted one when it is free and in
// range, otherwise the lowest free one.
func (p *ipPool) allocate(owner string, wanted net.IP) (net.IP, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for v, o := range p.used {
		if o == owner {
			return u32ToIP(v), nil
		}
	}
	if wanted != nil && wanted.To4() != nil {
		v := ipToU32(wanted)
		if v >= p.first && v <= p.last {
			if _, taken := p.used[v]; !taken {
				p.used[v] = owner
				return u32ToIP(v), nil
			}
		}
	}
	start := p.first
	if p.rotate {
		start = p.next
	}
	size := p.last - p.first + 1
	for i := uint32(0); i < size; i++ {
		v := p.first + (start-p.first+i)%size
		if _, taken := p.used[v]; !taken {
			p.used[v] = owner
			p.next = v + 1
			if p.next > p.last {
				p.next = p.first
			}
			return u32ToIP(v), nil
		}
	}
	return nil, fmt.Errorf("no free address in %s–%s", u32ToIP(p.first), u32ToIP(p.last))
}

// contains reports whether ip is in the pool's range.
func (p *ipPool) contains(ip net.IP) bool {
	if ip.To4() == nil {
		return false
	}
	v := ipToU32(ip)
	return v >= p.first && v <= p.last
}

// claim gives owner exactly ip (releasing any other address it holds), or
// says why it cannot: ip is outside the range or another owner holds it.
func (p *ipPool) claim(owner string, ip net.IP) error {
	if !p.contains(ip) {
		return fmt.Errorf("%s is not in %s–%s", ip, u32ToIP(p.first), u32ToIP(p.last))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v := ipToU32(ip)
	if o, taken := p.used[v]; taken && o != owner {
		return fmt.Errorf("%s is held by %s", ip, o)
	}
	for k, o := range p.used {
		if o == owner && k != v {
			delete(p.used, k)
		}
	}
	p.used[v] = owner
	return nil
}

func (p *ipPool) release(owner string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for v, o := range p.used {
		if o == owner {
			delete(p.used, v)
		}
	}
}

// podNetwork is one pod's network namespace and veth pair.
type podNetwork struct {
	NetNS    string // name under /run/netns
	HostVeth string
	IP       net.IP
}

// shortID is a stable 8-hex-digit id for names with a 15-byte limit.
func shortID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// createPodNetwork makes a network namespace with loopback up and an eth0
// holding ip on the bridge. It adds no default route: the pod reaches the
// bridge's subnet only.
func createPodNetwork(n NetworkConfig, podUID string, ip net.IP) (*podNetwork, error) {
	id := shortID(podUID)
	pn := &podNetwork{NetNS: n.Prefix + "-" + id, HostVeth: n.Prefix + "v" + id, IP: ip}
	steps := [][]string{
		{"netns", "add", pn.NetNS},
		{"link", "add", pn.HostVeth, "type", "veth", "peer", "name", "eth0", "netns", pn.NetNS},
		{"link", "set", pn.HostVeth, "master", n.Bridge},
		{"link", "set", pn.HostVeth, "up"},
		{"-n", pn.NetNS, "link", "set", "lo", "up"},
		{"-n", pn.NetNS, "addr", "add", fmt.Sprintf("%s/%d", ip, n.prefixLen()), "dev", "eth0"},
		{"-n", pn.NetNS, "link", "set", "eth0", "up"},
	}
	for _, step := range steps {
		if err := runIP(step...); err != nil {
			pn.delete()
			return nil, err
		}
	}
	return pn, nil
}

// delete removes the namespace; the veth pair goes with it. Errors are
// ignored because delete also cleans up half-created networks.
func (pn *podNetwork) delete() {
	_ = runIP("link", "del", pn.HostVeth)
	_ = runIP("netns", "del", pn.NetNS)
}

// addHostAddress puts a /32 on the bridge (a LoadBalancer address), so the
// host answers ARP for it on the bridge and accepts its traffic locally.
func addHostAddress(n NetworkConfig, ip net.IP) error {
	return runIP("addr", "replace", ip.String()+"/32", "dev", n.Bridge)
}

func delHostAddress(n NetworkConfig, ip net.IP) error {
	return runIP("addr", "del", ip.String()+"/32", "dev", n.Bridge)
}
