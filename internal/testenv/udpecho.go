package testenv

import (
	"fmt"
	"net"
	"testing"
)

// UDPEcho is a UDP backend on 127.0.0.1 that answers every datagram with
// three: "name 1 payload" … "name 3 payload" (a streaming answer, more
// than one per request, and one that says which backend answered). It
// returns its port and stops when the test ends.
func UDPEcho(t testing.TB, name string) int32 {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for i := 1; i <= 3; i++ {
				_, _ = pc.WriteTo([]byte(fmt.Sprintf("%s %d %s", name, i, buf[:n])), from)
			}
		}
	}()
	return int32(pc.LocalAddr().(*net.UDPAddr).Port)
}
