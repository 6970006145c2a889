package nginxproc

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Reload requests go from the sidecar to the exec-nginx supervisor, nginx's
// parent, through a FIFO in the run folder both containers share, instead
// of the sidecar signalling the nginx master across containers: the sidecar
// needs no right to signal nginx's processes, so the two may run as
// different users. The supervisor turns each request into a SIGHUP to its
// child; requests that arrive together are one reload, as SIGHUPs would be.

// ReloadFIFOMode lets the FIFO's owner (the nginx user) and its group (the
// pod's fsGroup, which both containers hold) write it.
const ReloadFIFOMode = 0o660

// ListenReloads makes the FIFO at path (replacing whatever is there) and
// returns a channel that receives a value after requests arrive. The FIFO
// is held open for reading and writing, so the reader never sees an end of
// file when a writer closes. stop closes it and removes it.
func ListenReloads(path string) (requests <-chan struct{}, stop func(), err error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	if err := syscall.Mkfifo(path, ReloadFIFOMode); err != nil {
		return nil, nil, fmt.Errorf("making the reload FIFO %s: %w", path, err)
	}
	if err := os.Chmod(path, ReloadFIFOMode); err != nil { // mkfifo obeys the umask
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	ch := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
			select {
			case ch <- struct{}{}:
			default: // a reload is already pending
			}
		}
	}()
	return ch, func() { _ = f.Close(); _ = os.Remove(path) }, nil
}

// RequestReload asks the supervisor listening on the FIFO at path to
// reload nginx. It never blocks: with no listener it fails (ENXIO), and a
// full FIFO means reloads are pending already.
func RequestReload(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("opening the reload FIFO: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return fmt.Errorf("%s is not the reload FIFO", path)
	}
	if _, err := f.Write([]byte{'R'}); err != nil && !errors.Is(err, syscall.EAGAIN) {
		return fmt.Errorf("writing the reload FIFO: %w", err)
	}
	return nil
}
