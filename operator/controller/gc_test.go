package controller

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// startGarbageCollector runs the real kube-controller-manager with only
// its garbage collector against the envtest API server (envtest runs no
// controllers), and stops it when the test ends.
func startGarbageCollector(t *testing.T) {
	t.Helper()
	assets, err := testenv.KubeAssets()
	if err != nil {
		t.Fatal(err)
	}
	user, err := testEnv.AddUser(envtest.User{Name: "kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig="+path,
		"--controllers=garbage-collector-controller",
		"--leader-elect=false",
		"--secure-port=0",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("kube-controller-manager output:\n%s", testenv.Tail(logs.String(), 4000))
		}
	})
}

func TestDeletedGatewayObjectsAreCollected(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	gw := newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, ""))
	waitOwned(t, ns, "gw", true)

	startGarbageCollector(t)
	if err := k8s.Delete(ctx, gw); err != nil {
		t.Fatal(err)
	}
	waitOwned(t, ns, "gw", false)
	// Nothing the reconciler does may bring them back.
	other := newGateway(t, ns, gc.Name, "other", httpListener("http", 80, ""))
	waitGateway(t, ns, other.Name, "Accepted", "True", "Accepted")
	for _, obj := range ownedObjects(ns, "gw") {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s is back: %v", obj, obj.GetName(), err)
		}
	}
}
