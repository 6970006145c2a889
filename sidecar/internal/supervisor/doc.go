// Package supervisor is `nginx-gateway-sidecar exec-nginx`, the nginx
// container's main process. It waits for the live config, then runs nginx
// in the foreground as its child rather than exec'ing it, because a
// container's stop signal is SIGTERM, which nginx treats as a fast shutdown
// that cuts in-flight requests: the supervisor turns SIGTERM into SIGQUIT
// (graceful: finish requests, then exit) and escalates to SIGTERM, then
// SIGKILL, when draining outlasts its bound. nginx writes its own pid file,
// so the file names the nginx master, never the supervisor. The supervisor
// also copies nginx's `[emerg]` lines from stderr into the shared run folder,
// where the sidecar looks for the reason of a failed reload, and turns the
// sidecar's reload requests, written to a FIFO in that folder
// (nginxproc.ListenReloads), into SIGHUPs to nginx: the sidecar never
// signals nginx's processes itself.
package supervisor
