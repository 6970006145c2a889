package apply

import (
	"os"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/mount"
)

type fileForTest struct {
	data string
	mode os.FileMode
}

type fileSet map[string]fileForTest

func (s fileSet) files() map[string]mount.File {
	out := map[string]mount.File{}
	for name, f := range s {
		out[name] = mount.File{Data: []byte(f.data), Mode: f.mode}
	}
	return out
}
