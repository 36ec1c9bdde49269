package rawwrite

import (
	"syscall"
	"unsafe"
)

const supported = true

// Send writes as much of p as the socket fd takes now, in one raw system
// call, retried if interrupted: syscall.EAGAIN if it takes nothing, and
// no SIGPIPE if the peer is gone (MSG_NOSIGNAL).
func Send(fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, errno
	}
}
