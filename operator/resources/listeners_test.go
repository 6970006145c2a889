package resources

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// TestGatewayPodsIgnoreListeners: a listener added to a Gateway (by its
// spec or by a ListenerSet) reaches the Service, never the Deployment's
// pod template, so no gateway pod restarts; nginx reloads its new config.
func TestGatewayPodsIgnoreListeners(t *testing.T) {
	before := testInfra()
	after := testInfra()
	after.Ports = append(after.Ports,
		model.ServicePort{Name: "http-8080", Port: 8080, Protocol: corev1.ProtocolTCP},
		model.ServicePort{Name: "udp-5353", Port: 5353, Protocol: corev1.ProtocolUDP})
	opts := Options{DefaultImage: "img:1"}
	a := Objects(testOwner, before, render.Files{}, opts)
	b := Objects(testOwner, after, render.Files{}, opts)
	if !reflect.DeepEqual(a.Deployment, b.Deployment) {
		t.Errorf("the Deployment changed with the listeners:\nbefore %+v\nafter  %+v", a.Deployment.Spec.Template.Spec, b.Deployment.Spec.Template.Spec)
	}
	if got, want := len(b.Service.Spec.Ports), len(a.Service.Spec.Ports)+2; got != want {
		t.Errorf("Service has %d ports after adding two listener ports, want %d: %+v", got, want, b.Service.Spec.Ports)
	}
}
