package render

// The access log names the route, rule and backend of each request
// ($ngo_route, $ngo_rule, $ngo_backend) without any directive that runs per
// request. Each location that answers for a rule (and each of its retry
// locations) has a root that spells them (logRoot): an absolute path that
// nothing is served from (no location of ours reads a file). One map of
// http.conf ($ngo_log_fields) cuts $document_root into the fields with the
// named captures of one regex, and nginx evaluates it only when it writes
// the log line (which reads $ngo_log_fields just before the fields). Before, every such location ran three
// `set` directives per request, which also made most of the extra parse
// time of a rendered config over a hand-written one at 1,000 routes
// (BenchmarkNginxCheck): a `set` makes nginx scan its tables of variables
// at parse time and gives the location a rewrite script; a root is one
// string. Maps with one exact key per location would cost nothing at log
// time either, but their keys and values, far from their locations in the
// files, grew the gzipped ConfigMap of 5,000 routes by a tenth.
//
// A request that jumps from its rule's location to a named location of the
// server (@ngo_502, @ngo_504) would log that location's root (none): the
// jumps go to "@ngo_502$ngo_log_kept": $ngo_log_kept (http.conf) is an
// empty map whose source reads the three fields in the rule's location
// first, and nginx keeps a map's value for the rest of the request.

// logRootPrefix starts every log root: a folder that exists nowhere.
const logRootPrefix = "/ngo/"

// logRoot is the quoted root of a location that logs route
// (namespace/name), rule and backend. The fields hold no "/" (Kubernetes
// names, rule names and indexes, upstream names); an empty backend leaves
// a trailing "/", which nginx drops, and the backend's map then finds none.
func logRoot(route, rule, backend string) string {
	return quoteValue(logRootPrefix + route + "/" + rule + "/" + backend)
}
