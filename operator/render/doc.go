// Package render turns one Gateway's data-plane model (operator/model) into
// nginx configuration files, through the templates embedded from templates/.
// It is pure and deterministic: the same model gives byte-identical files,
// so unchanged inputs never cause an nginx reload. Every value from the
// model that lands in a file is quoted and escaped here.
package render
