package monerodtest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a stop waits after SIGTERM before it sends SIGKILL.
const stopGrace = 10 * time.Second

// process is a child started by this package; only such processes are
// ever signalled.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	logFile string
	logFrom int64 // where this run's output starts in logFile
}

// startProcess runs bin with args, appending its stdout and stderr to
// logFile after a header line with the command.
func startProcess(bin string, args []string, logFile string) (*process, error) {
	logf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	from, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "=== %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{}), logFile: logFile, logFrom: from}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited, and how.
func (p *process) exited() (bool, string) {
	select {
	case <-p.done:
		return true, p.cmd.ProcessState.String()
	default:
		return false, ""
	}
}

func (p *process) signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// stop sends SIGCONT (for a process stopped with SIGSTOP) and SIGTERM, and
// waits for the exit, with SIGKILL after stopGrace.
func (p *process) stop() error {
	if done, _ := p.exited(); done {
		return nil
	}
	_ = p.signal(syscall.SIGCONT)
	_ = p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v and was killed", p.cmd.Path, p.cmd.Process.Pid, stopGrace)
}

// tail returns the last lines this run wrote to its log, for error
// messages.
func (p *process) tail(lines int) string {
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		return err.Error()
	}
	b = b[min(p.logFrom, int64(len(b))):]
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return fmt.Sprintf("--- last %d lines of %s ---\n%s", len(all), p.logFile, strings.Join(all, "\n"))
}
