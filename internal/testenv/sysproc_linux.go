package testenv

import "syscall"

// sysProcAttr kills a child when the test binary dies, so a crashed or
// killed test run leaves no process behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
