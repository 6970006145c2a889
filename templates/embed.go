package templates

import "embed"

// FS holds the nginx configuration templates (*.tmpl). operator/render
// parses them once and executes one per rendered file.
//
//go:embed *.tmpl
var FS embed.FS
