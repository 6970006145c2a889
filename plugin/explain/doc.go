// Package explain is the kubectl plugin's `explain GATEWAY --url URL`
// command: it reads a Gateway's objects (live through the API server with
// the user's rights, or offline from files with -f), translates and
// renders them as the operator does (operator/pipeline), evaluates the
// request against the resulting model (operator/explain) and prints which
// server, location, route rule and backend take it, what the rule changes,
// and why every other route of the Gateway did not take it.
package explain
