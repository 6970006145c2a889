package config

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

func testPod(name string, ready, deleting bool) corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}}
	if deleting {
		p.DeletionTimestamp = &metav1.Time{}
	}
	return p
}

// TestPickPod: --pod names one of the Gateway's pods, else the first ready
// one by name; a terminating pod is never picked.
func TestPickPod(t *testing.T) {
	pods := []corev1.Pod{testPod("web-c", true, false), testPod("web-b", false, false), testPod("web-a", true, true), testPod("web-d", true, false)}
	for _, tc := range []struct {
		pods []corev1.Pod
		want string
		pick string
		err  string
	}{
		{pods: pods, pick: "web-c"},
		{pods: pods, want: "web-b", pick: "web-b"},
		{pods: pods, want: "web-a", err: `pod "web-a" is not one of its pods (web-b, web-c, web-d)`},
		{pods: pods[1:2], err: "none of its pods is ready (web-b): name one with --pod"},
		{err: "it has no pods"},
	} {
		got, err := pickPod(tc.pods, tc.want)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("pickPod(%q): %q %v, want error %q", tc.want, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.pick):
			t.Errorf("pickPod(%q): %q %v, want %q", tc.want, got, err, tc.pick)
		}
	}
}

// TestParseRefusesATreeWithoutItsSourceDocument: a pod with nothing
// applied, or running a config rendered before the source document
// shipped, gets an error saying so rather than empty tables.
func TestParseRefusesATreeWithoutItsSourceDocument(t *testing.T) {
	if _, err := Parse("p", dataplane.LiveConfig{}, nil); err == nil || !strings.Contains(err.Error(), "serves no config yet") {
		t.Errorf("nothing applied: %v", err)
	}
	old := dataplane.LiveConfig{Hash: "abc", Files: map[string]string{"nginx.conf": "events {}\n"}}
	if _, err := Parse("p", old, nil); err == nil || !strings.Contains(err.Error(), "older than this plugin") {
		t.Errorf("no source document: %v", err)
	}
}
