package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/configsource"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Live is what one gateway pod runs.
type Live struct {
	Pod string
	// Hash is the applied config's hash.
	Hash  string
	Files map[string]string
	// Source is the tree's source document: its model and source map.
	Source *configsource.Document
	// Endpoints is the sidecar's DNS table; nil when not read.
	Endpoints *dataplane.LiveEndpoints
}

// Parse reads a pod's live config (and endpoints, when eps is not nil).
func Parse(pod string, cfg dataplane.LiveConfig, eps *dataplane.LiveEndpoints) (*Live, error) {
	if cfg.Hash == "" {
		return nil, fmt.Errorf("pod %s serves no config yet", pod)
	}
	raw, ok := cfg.Files[dataplane.SourceFile]
	if !ok {
		return nil, fmt.Errorf("the config pod %s runs (%s) has no %s: it was rendered by an operator older than this plugin", pod, short(cfg.Hash), dataplane.SourceFile)
	}
	doc, err := configsource.Decode([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", pod, err)
	}
	return &Live{Pod: pod, Hash: cfg.Hash, Files: cfg.Files, Source: doc, Endpoints: eps}, nil
}

func (l *Live) model() *model.Gateway { return &l.Source.Gateway }

// certificate reads the first certificate of the tree's file <name>.crt.
func (l *Live) certificate(name string) (*x509.Certificate, error) {
	data, ok := l.Files[name+".crt"]
	if !ok {
		return nil, fmt.Errorf("%s.crt is not in the tree", name)
	}
	rest := []byte(data)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no certificate in " + name + ".crt")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// shortHash bounds hashes in messages and tables.
const shortHash = 12

func short(hash string) string {
	if len(hash) > shortHash {
		return hash[:shortHash]
	}
	return hash
}
