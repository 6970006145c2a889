// Package render turns one Gateway's data-plane model (operator/model) into
// nginx configuration files, through the templates embedded from templates/.
// It is pure and deterministic: the same model gives byte-identical files,
// so unchanged inputs never cause an nginx reload. Every value from the
// model that lands in a file is quoted and escaped here (quote.go).
//
// Files: nginx.conf (main context) includes http.conf (http settings, log
// format), maps.conf (request conditions, computed headers, traffic
// splits), upstreams.conf and servers.conf by relative name; TLS key pairs
// are <name>.crt and <name>.key in Files.Secret.
//
// Routing: each model.Location becomes one or two nginx locations. When
// its first candidate has no condition the rule is served inline;
// otherwise `if ($candidate) { rewrite ^ //ngo/<rule> last; }` jumps to the
// first matching rule's internal location, and nothing matching answers
// 404. Internal URIs start with "//", which no client path has once nginx
// has merged slashes. Weighted backends jump once more, through a
// split_clients variable, to one internal location per backend, so that a
// backend's own filters apply only to its share.
//
// Paths: Location.Path and PathRewrite.MatchedPrefix come decoded from the
// translation step (nginx matches the decoded path); redirects match the raw
// $request_uri with any %-spelling of the prefix (rawURIRegex).
//
// Tests: golden files (testdata/<case>, checked by `nginx -t` that must not
// even warn), real traffic through nginx, a fuzz test of the render step
// on hostile model values (FuzzRender), and one of translate + render together
// on hostile HTTPRoute fields (FuzzPipeline, pipeline_fuzz_test.go).
package render
