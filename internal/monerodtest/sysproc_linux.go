package monerodtest

import "syscall"

// sysProcAttr kills monerod when the test binary dies, so a crashed or
// killed test run leaves no node behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
