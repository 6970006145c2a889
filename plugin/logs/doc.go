// Package logs is the kubectl plugin's `logs GATEWAY` command: it reads
// the nginx container's log of every gateway pod through the API server
// (pods/log, as kubectl logs does), parses the access log lines of the
// formats the templates write (HTTP requests, templates/http.conf.tmpl:
// ngo_json, the default, and ngo_default, the text format; TCP/UDP/TLS
// sessions, templates/stream.conf.tmpl: ngo_stream_json and
// ngo_stream_default), filters them by route, rule, status and time, and prints
// them as a table, raw, as YAML/JSON, or summarized per route and backend
// (requests, 5xx rate, p50/p99 request_time).
package logs
