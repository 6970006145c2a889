package nodeagent

import (
	"net"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestExpandVars(t *testing.T) {
	env := map[string]string{"A": "x", "EMPTY": ""}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "x"},
		{"a-$(A)-b", "a-x-b"},
		{"$(EMPTY)|", "|"},
		{"$(MISSING)", "$(MISSING)"},
		{"$$(A)", "$(A)"},
		{"$A", "$A"},
		{"$(A", "$(A"},
		{"end$", "end$"},
	}
	for _, tc := range tests {
		if got := expandVars(tc.in, env); got != tc.want {
			t.Errorf("expandVars(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMatchImageAndArgv(t *testing.T) {
	rules := []ImageRule{
		{Contains: "echo-basic", Entrypoint: "/cache/echo-basic"},
		{Contains: "nginx-gateway-operator", Entrypoint: "/repo/bin/operator"},
		{Contains: "nginx-gateway", Rootfs: "/rootfs"},
	}
	tests := []struct {
		image     string
		command   []string
		args      []string
		wantRule  int // -1: no match
		wantArgv  []string
		wantError bool
	}{
		{"gcr.io/k8s-staging-gateway-api/echo-basic:v1", nil, []string{"-x"}, 0, []string{"/.localcluster/bin/echo-basic", "-x"}, false},
		// The registry path names the operator's organisation; only the image name counts.
		{"ghcr.io/nginx-gateway-operator/nginx-gateway:v0.1.0", []string{"nginx-gateway-sidecar", "exec-nginx"}, nil, 2,
			[]string{"nginx-gateway-sidecar", "exec-nginx"}, false},
		{"ghcr.io/nginx-gateway-operator/nginx-gateway-operator@sha256:abc", []string{"/operator", "--a"}, []string{"--b=$(V)"}, 1,
			[]string{"/.localcluster/bin/operator", "--a", "--b=1"}, false},
		{"ghcr.io/nginx-gateway-operator/nginx-gateway:v1", nil, nil, 2, nil, true},
		{"docker.io/library/busybox", nil, nil, -1, nil, false},
	}
	for _, tc := range tests {
		rule, ok := matchImage(rules, tc.image)
		if tc.wantRule < 0 {
			if ok {
				t.Errorf("%s matched %+v", tc.image, rule)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(rule, rules[tc.wantRule]) {
			t.Errorf("%s matched %+v, want %+v", tc.image, rule, rules[tc.wantRule])
			continue
		}
		c := &corev1.Container{Image: tc.image, Command: tc.command, Args: tc.args}
		argv, err := containerArgv(rule, c, map[string]string{"V": "1"})
		if (err != nil) != tc.wantError || !reflect.DeepEqual(argv, tc.wantArgv) {
			t.Errorf("%s: argv %q, err %v; want %q (error %v)", tc.image, argv, err, tc.wantArgv, tc.wantError)
		}
	}
}

func TestRotatingIPPool(t *testing.T) {
	p := newRotatingIPPool(net.ParseIP("198.18.0.10"), net.ParseIP("198.18.0.12"))
	var got []string
	for _, owner := range []string{"a", "b", "-a", "c", "d", "-b", "-c", "e"} {
		if owner[0] == '-' {
			p.release(owner[1:])
			continue
		}
		ip, err := p.allocate(owner, nil)
		if err != nil {
			got = append(got, owner+"=error")
			continue
		}
		got = append(got, owner+"="+ip.String())
	}
	// a's .10 is not reused before the range wraps around (d).
	want := []string{"a=198.18.0.10", "b=198.18.0.11", "c=198.18.0.12", "d=198.18.0.10", "e=198.18.0.11"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("allocations %v, want %v", got, want)
	}
}

func TestIPPool(t *testing.T) {
	p := newIPPool(net.ParseIP("198.18.0.200"), net.ParseIP("198.18.0.202"))
	steps := []struct {
		op, owner, wanted, want string
	}{
		{"alloc", "a", "", "198.18.0.200"},
		{"alloc", "b", "198.18.0.202", "198.18.0.202"},
		{"alloc", "a", "198.18.0.201", "198.18.0.200"}, // an owner keeps its address
		{"alloc", "c", "198.18.0.202", "198.18.0.201"}, // wanted but taken
		{"alloc", "d", "", "error"},
		{"release", "b", "", ""},
		{"alloc", "d", "10.0.0.1", "198.18.0.202"}, // wanted but out of range
	}
	for i, s := range steps {
		if s.op == "release" {
			p.release(s.owner)
			continue
		}
		var wanted net.IP
		if s.wanted != "" {
			wanted = net.ParseIP(s.wanted)
		}
		ip, err := p.allocate(s.owner, wanted)
		got := "error"
		if err == nil {
			got = ip.String()
		}
		if got != s.want {
			t.Errorf("step %d: allocate(%s, %s) = %s, want %s", i, s.owner, s.wanted, got, s.want)
		}
	}
}

func TestTailLines(t *testing.T) {
	data := []byte("a\nb\nc\n")
	tests := []struct {
		n    int
		want string
	}{{0, ""}, {1, "c\n"}, {2, "b\nc\n"}, {3, "a\nb\nc\n"}, {10, "a\nb\nc\n"}}
	for _, tc := range tests {
		if got := string(tailLines(data, tc.n)); got != tc.want {
			t.Errorf("tailLines(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
