// Package explain answers, for one request, what a Gateway's nginx does
// with it, from the model the render step writes nginx's configuration
// from (operator/model), never from the nginx files: which server takes
// the request (port, SNI for the TLS handshake, then the Host header:
// exact name, longest wildcard, default server; 421 when the Host's server
// belongs to another listener than the SNI's), which location (exact
// `=` first, then the longest prefix, as nginx selects them among the
// blocks operator/render writes for each model.Location), which candidate
// (the first whose conditions all hold, in the model's order, as the
// render step's dispatch map does), and what the selected rule does
// (redirect, fixed status, backends with their shares and endpoints,
// header and path changes). It also says, for every route the model
// holds, why it did not take the request.
//
// Conditions are evaluated with nginx's inputs: the decoded, normalized
// $uri (percent-decoding, merged slashes, resolved dot segments), the raw
// $args (first parameter of that exact name), $http_NAME (values of
// repeated headers joined with ", "; header names nginx ignores, such as
// names with "_", are never seen) and $request_method. Regular expressions
// are evaluated with Go's regexp on the route's RE2 expression, anchored
// as ^(?:re)$: operator/pcre translates that expression into the PCRE2
// pattern nginx runs with the same meaning on any byte string (byte mode,
// invalid UTF-8 included), so Go's answer is nginx's answer.
//
// ExplainConnection does the same for one connection to a TCP, UDP or TLS
// listener (stream.go), from the model's stream servers: the server of the
// port and transport, the TLS server name's route, its weighted backends.
//
// The package is pure: no I/O, no clock. The kubectl plugin's explain
// command (plugin/explain) reads the objects, translates them and prints
// the Result.
package explain
