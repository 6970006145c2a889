// Package nginxproc knows how nginx is run in the gateway pod and how to
// observe it from outside: the command line, `nginx -t`, the master's pid
// file, the master's worker processes (through /proc, which the shared pod
// process namespace makes visible), and the file where the nginx container
// keeps nginx's emergency messages so the sidecar can see a failed reload.
package nginxproc
