package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/command"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
)

func main() {
	var imagesFile *string
	command.Main(command.Config{Flags: func(flags *flag.FlagSet) {
		imagesFile = flags.String("images", "", `JSON file of image rules, e.g. [{"Contains": "echo", "Entrypoint": "/usr/local/bin/echo-server"}]`)
	}, Images: func() ([]nodeagent.ImageRule, error) {
		if *imagesFile == "" {
			return nil, nil
		}
		data, err := os.ReadFile(*imagesFile)
		if err != nil {
			return nil, err
		}
		var rules []nodeagent.ImageRule
		if err := json.Unmarshal(data, &rules); err != nil {
			return nil, fmt.Errorf("%s: %w", *imagesFile, err)
		}
		return rules, nil
	}})
}
