//go:build !linux

package rawwrite

import "syscall"

// Elsewhere Conn leaves connections as they are.
const supported = false

// Send writes as much of p as the socket fd takes now, retried if
// interrupted: syscall.EAGAIN if it takes nothing.
func Send(fd uintptr, p []byte) (int, error) {
	for {
		n, err := syscall.Write(int(fd), p)
		if err == syscall.EINTR {
			continue
		}
		return max(n, 0), err
	}
}
