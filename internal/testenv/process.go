package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
const StopGrace = 10 * time.Second

// Process is a child process started by StartProcess, Start or StartServer.
// Only such processes are ever signalled, by their own PID.
type Process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	logFile string
	logFrom int64 // where this run's output starts in logFile
}

// StartProcess runs bin with args, appending its stdout and stderr to
// logFile after a header line with the command. It does not wait for
// anything and registers no cleanup: the caller stops the process (see
// Start for a test-scoped one). On Linux the child is killed if the test
// binary dies.
func StartProcess(logFile, bin string, args ...string) (*Process, error) {
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
	p := &Process{cmd: cmd, done: make(chan struct{}), logFile: logFile, logFrom: from}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Start starts bin with args, its output in a log file of a t.TempDir(),
// and stops it when the test ends: a process that ignores SIGTERM for
// StopGrace fails the test, and the tail of its output is logged when the
// test failed.
func Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), filepath.Base(bin)+".log")
	p, err := StartProcess(logFile, bin, args...)
	if err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	p.stopAtCleanup(t)
	return p
}

func (p *Process) stopAtCleanup(t testing.TB) {
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("%s", p.Tail(40))
		}
	})
}

// StartServer starts bin listening on a free loopback port and waits until
// it serves. args is given the address, "127.0.0.1:P", and returns the
// command line; ready is given the same address and returns nil once the
// server serves (see Listening and HTTPOK). A port taken by someone else
// between FreePort and the bind ("address already in use" in the output of
// a process that exited) is retried on another port, three times at most.
// Exiting early or not becoming ready within timeout fails the test, with
// the tail of the output. The process is stopped when the test ends, as by
// Start.
func StartServer(t testing.TB, timeout time.Duration, bin string, args func(addr string) []string, ready func(addr string) error) (*Process, string) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), filepath.Base(bin)+".log")
	for attempt := 1; ; attempt++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
		p, err := StartProcess(logFile, bin, args(addr)...)
		if err != nil {
			t.Fatalf("starting %s: %v", bin, err)
		}
		p.stopAtCleanup(t)
		err = p.WaitReady(func() error { return ready(addr) }, timeout)
		if err == nil {
			return p, addr
		}
		if exited, _ := p.Exited(); attempt == 3 || !exited || !strings.Contains(p.Output(), "address already in use") {
			t.Fatalf("%s on %s: %v\n%s", filepath.Base(bin), addr, err, p.Tail(40))
		}
	}
}

// WaitReady polls ready every 100 ms until it succeeds, the process exits
// or timeout passes.
func (p *Process) WaitReady(ready func() error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if done, how := p.Exited(); done {
			return fmt.Errorf("exited before it was ready (%s)", how)
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Listening is a readiness check: something accepts TCP connections on
// addr.
func Listening(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// HTTPOK is a readiness check: GET url answers 200.
func HTTPOK(url string) error {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, string) {
	select {
	case <-p.done:
		return true, p.cmd.ProcessState.String()
	default:
		return false, ""
	}
}

// ExitCode is the exit code of a process that has exited, -1 while it runs
// or when a signal ended it.
func (p *Process) ExitCode() int {
	if done, _ := p.Exited(); !done {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends SIGCONT (for a process stopped with SIGSTOP) and SIGTERM, and
// waits for the exit; after StopGrace it sends SIGKILL and returns an
// error. Stopping a process that has exited does nothing.
func (p *Process) Stop() error {
	if done, _ := p.Exited(); done {
		return nil
	}
	_ = p.Signal(syscall.SIGCONT)
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(StopGrace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v and was killed", p.cmd.Path, p.PID(), StopGrace)
}

// Output is what this run of the process has written so far.
func (p *Process) Output() string {
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		return err.Error()
	}
	return string(b[min(p.logFrom, int64(len(b))):])
}

// Tail returns the last lines this run wrote, headed by the log file's
// name, for error messages.
func (p *Process) Tail(lines int) string {
	all := strings.Split(strings.TrimRight(p.Output(), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return fmt.Sprintf("--- last %d lines of %s ---\n%s", len(all), p.logFile, strings.Join(all, "\n"))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RSS reads a process's resident memory from /proc, in MiB.
func RSS(t testing.TB, pid int) float64 {
	t.Helper()
	return statusMiB(t, pid, "VmRSS")
}

// PeakRSS reads the highest resident memory a process has had so far
// (VmHWM), in MiB.
func PeakRSS(t testing.TB, pid int) float64 {
	t.Helper()
	return statusMiB(t, pid, "VmHWM")
}

// statusMiB reads a memory field of /proc/PID/status, in MiB.
func statusMiB(t testing.TB, pid int, field string) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				t.Fatalf("%s of %d: %v", field, pid, err)
			}
			return kb / 1024
		}
	}
	t.Fatalf("no %s for process %d", field, pid)
	return 0
}

// CPUTime is a process's user and system CPU time so far, from /proc.
func CPUTime(t testing.TB, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("CPU time of %d: %q", pid, b)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration((utime + stime) / ticks * float64(time.Second))
}
