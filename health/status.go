package health

// Status is the outcome of one check, or of several combined.
//
// It has four values because the two APIs need different things: the old
// /api/v1 service knew OK, ERROR and UNKNOWN; the /health probe knows pass,
// warn and fail. Keeping all four here lets each API map them without losing
// what the other needs (a restricted node's peers are "warn", neither a
// pass nor a failure).
type Status int

const (
	// StatusUnknown means the check could not be evaluated: monerod did
	// not answer, or a call it needs failed. It is the zero value so that a
	// check never passes by omission.
	StatusUnknown Status = iota
	// StatusOK means the check passed.
	StatusOK
	// StatusWarn means the check found something short of a failure and
	// says so, with a 200 on /health: it could not see everything it
	// wanted (the peers of a restricted node), or the fault is not the
	// node's (a stale tip at its peers' best height).
	StatusWarn
	// StatusError means the check was evaluated and failed.
	StatusError
)

// Statuses lists every status in the order metrics expose them, for a
// state-set metric that has one series per status.
func Statuses() []Status {
	return []Status{StatusOK, StatusWarn, StatusError, StatusUnknown}
}

// String is the lower-case name used in metric labels and logs: ok, warn,
// error or unknown.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusWarn:
		return "warn"
	case StatusError:
		return "error"
	default:
		return "unknown"
	}
}

// V1 is the status string of the old /api/v1 service: OK, ERROR or UNKNOWN.
// A warning is OK there: that service had no such state, its clients treat
// everything but OK as a failure, and a warning is not one. (No check the
// old API shows can warn today; the mapping matters if one ever does.)
func (s Status) V1() string {
	switch s {
	case StatusOK, StatusWarn:
		return "OK"
	case StatusError:
		return "ERROR"
	default:
		return "UNKNOWN"
	}
}

// Probe is the status string of the /health endpoint: pass, warn or fail.
// A check that cannot be evaluated fails there: a probe that cannot tell
// whether the node is healthy must not route traffic to it.
func (s Status) Probe() string {
	switch s {
	case StatusOK:
		return "pass"
	case StatusWarn:
		return "warn"
	default:
		return "fail"
	}
}

// severity orders statuses for worst-of combination: ERROR over UNKNOWN
// over warn over OK, as the old service weighed them (it had no warn).
func (s Status) severity() int {
	switch s {
	case StatusOK:
		return 0
	case StatusWarn:
		return 1
	case StatusError:
		return 3
	default:
		return 2
	}
}

// Worst combines statuses by worst-of. With none it returns StatusOK:
// nothing failed.
func Worst(statuses ...Status) Status {
	w := StatusOK
	for _, s := range statuses {
		if s.severity() > w.severity() {
			w = s
		}
	}
	return w
}
