package health

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/monero-ops/monero_exporter/monerod"
	"github.com/monero-ops/monero_exporter/snapshot"
)

// The bodies of the old service's /api/v1 endpoints, as monero_health_check
// (monero_health and python-monerorpc underneath) wrote them. Flask's
// jsonify sorted the keys, so the fields below are in alphabetical order:
// the bodies come out byte for byte in the order its clients saw.

// v1Unread is what the old service showed for a string it could not read.
const v1Unread = "---"

// v1Unknown is what it showed for a number it could not read (the hard-fork
// version, the block's age).
const v1Unknown = -1

// v1TimeFormat is the old service's timestamp format (Python's isoformat of
// a naive UTC datetime without microseconds).
const v1TimeFormat = "2006-01-02T15:04:05"

// The old service's messages (monero_health).
const (
	v1MsgCannotDetermine = "Cannot determine status."
	v1MsgStatusError     = "Status is 'ERROR'."
)

// v1Envelope wraps every /api/v1 body.
type v1Envelope struct {
	Result any `json:"result"`
}

// v1Status is {"status": ...}, the body of the .../health endpoints and the
// "health" key of the others.
type v1Status struct {
	Status string `json:"status"`
}

// v1Error is the error key of a check that is not OK.
type v1Error struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// v1LastBlock is /api/v1/last_block.
type v1LastBlock struct {
	// BlockAge is Python's str(timedelta), or -1 when not compared.
	BlockAge    any  `json:"block_age"`
	BlockRecent bool `json:"block_recent"`
	// BlockRecentOffset is a number, or OFFSET's string as given (see
	// v1Offset).
	BlockRecentOffset     any      `json:"block_recent_offset"`
	BlockRecentOffsetUnit string   `json:"block_recent_offset_unit"`
	BlockTimestamp        string   `json:"block_timestamp"`
	CheckTimestamp        string   `json:"check_timestamp"`
	Error                 *v1Error `json:"error,omitempty"`
	Hash                  string   `json:"hash"`
	Health                v1Status `json:"health"`
	Host                  string   `json:"host"`
}

// v1Part is monerod's rpc and p2p keys: one probe of the daemon.
type v1Part struct {
	Error  *v1Error `json:"error,omitempty"`
	Host   string   `json:"host"`
	Status string   `json:"status"`
}

// v1Monerod is /api/v1/monerod.
type v1Monerod struct {
	Health v1Status `json:"health"`
	Host   string   `json:"host"`
	// P2P is left out only when no P2P address is configured, which the
	// command never does.
	P2P *v1Part `json:"p2p,omitempty"`
	RPC v1Part  `json:"rpc"`
	// Version is the hard-fork version, -1 when unread.
	Version int64 `json:"version"`
}

// v1Combined is /api/v1 (and / for clients that do not ask for HTML). Its
// nested checks keep their error keys, as the old service's did; only the
// combined level has none.
type v1Combined struct {
	Health    v1Status    `json:"health"`
	Host      string      `json:"host"`
	LastBlock v1LastBlock `json:"last_block"`
	Monerod   v1Monerod   `json:"monerod"`
}

// v1MonerodStatus is the old API's monerod status: the RPC probe, and the
// P2P probe too with ConsiderP2P (CONSIDER_P2P_STATUS).
func v1MonerodStatus(rep *Report, cfg Config) Status {
	rpc, _ := rep.Result(CheckMonerod)
	st := rpc.Status
	if p2p, ok := rep.Result(CheckP2P); ok && cfg.ConsiderP2P {
		st = Worst(st, p2p.Status)
	}
	return st
}

// v1Combine is the status of /api/v1 and /api/v1/health: the monerod and
// last_block checks, like the old service, whatever /health counts; and the
// chain check, which the old service did not have, when the operator lists
// it among the checks.
func v1Combine(rep *Report, cfg Config) Status {
	st := Worst(v1MonerodStatus(rep, cfg), rep.V1LastBlock.Status)
	if chain, ok := rep.Result(CheckChain); ok && chain.Enabled {
		st = Worst(st, chain.Status)
	}
	return st
}

// v1RPCHost is "host:port" of monerod's RPC, without credentials.
func v1RPCHost(cfg Config) string { return sanitizeAddress(cfg.DaemonAddress) }

// v1Host is the RPC host alone, the old service's MONEROD_URL.
func v1Host(cfg Config) string {
	addr := v1RPCHost(cfg)
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// v1CombinedBody builds /api/v1.
func v1CombinedBody(snap *snapshot.Snapshot, rep *Report, cfg Config) v1Combined {
	return v1Combined{
		Health:    v1Status{v1Combine(rep, cfg).V1()},
		Host:      v1Host(cfg),
		LastBlock: v1LastBlockBody(snap, rep, cfg),
		Monerod:   v1MonerodBody(snap, rep, cfg),
	}
}

// v1MonerodBody builds /api/v1/monerod.
func v1MonerodBody(snap *snapshot.Snapshot, rep *Report, cfg Config) v1Monerod {
	res, _ := rep.Result(CheckMonerod)
	body := v1Monerod{
		Health:  v1Status{v1MonerodStatus(rep, cfg).V1()},
		Host:    v1Host(cfg),
		RPC:     v1PartBody(res, v1RPCHost(cfg), v1ErrText),
		Version: v1Unknown,
	}
	if snap.HardFork != nil {
		body.Version = int64(snap.HardFork.Version)
	}
	if p2p, ok := rep.Result(CheckP2P); ok {
		part := v1PartBody(p2p, sanitizeAddress(cfg.P2PAddress), v1P2PErrText)
		body.P2P = &part
	}
	return body
}

// v1PartBody shows one probe's result the way monero_health did.
func v1PartBody(res Result, host string, errText func(error) string) v1Part {
	part := v1Part{Host: host, Status: res.Status.V1()}
	switch res.Status {
	case StatusOK, StatusWarn:
	case StatusError:
		part.Error = &v1Error{Error: errText(res.Err), Message: v1MsgStatusError}
	default:
		part.Error = &v1Error{Error: errText(res.Err), Message: v1MsgCannotDetermine}
	}
	return part
}

// v1Offset is block_recent_offset and its unit as the old service showed
// them. Once it had compared the block's age with OFFSET, it showed the
// number it used; before that (monerod did not answer, or OFFSET is not an
// integer) it echoed OFFSET and OFFSET_UNIT as given: OFFSET as a string when
// set, the number 12 when not.
func v1Offset(cfg Config, compared bool) (offset any, unit string) {
	n, unit := cfg.Offset()
	env := cfg.OffsetEnv
	if env == nil || compared {
		return n, unit
	}
	offset, unit = int64(12), DefaultOffsetUnit
	if env.Offset != "" {
		offset = env.Offset
	}
	if env.Unit != "" {
		unit = env.Unit
	}
	return offset, unit
}

// v1LastBlockBody builds /api/v1/last_block.
func v1LastBlockBody(snap *snapshot.Snapshot, rep *Report, cfg Config) v1LastBlock {
	res := rep.V1LastBlock
	compared := res.Status == StatusOK || res.Status == StatusError
	offset, unit := v1Offset(cfg, compared)
	body := v1LastBlock{
		BlockAge:              v1Unknown,
		BlockRecent:           res.Status == StatusOK,
		BlockRecentOffset:     offset,
		BlockRecentOffsetUnit: unit,
		BlockTimestamp:        v1Unread,
		CheckTimestamp:        snap.Time.UTC().Format(v1TimeFormat),
		Hash:                  v1Unread,
		Health:                v1Status{res.Status.V1()},
		Host:                  v1RPCHost(cfg),
	}
	if lb := snap.LastBlock; lb != nil && snap.Info != nil {
		body.BlockTimestamp = time.Unix(lb.Timestamp, 0).UTC().Format(v1TimeFormat)
		body.Hash = lb.Hash
	}
	if compared {
		body.BlockAge = pyTimedelta(blockAge(snap))
	}
	switch res.Status {
	case StatusOK, StatusWarn:
	case StatusError:
		body.Error = &v1Error{
			Error:   fmt.Sprintf("Last block's age is '%s'.", pyTimedelta(blockAge(snap))),
			Message: fmt.Sprintf("Last block's timestamp is older than '%v [%s]'.", offset, unit),
		}
	default:
		body.Error = &v1Error{Error: v1ErrText(res.Err), Message: v1MsgCannotDetermine}
	}
	return body
}

// v1ErrText words a failed RPC call as python-monerorpc did, whose codes
// (-341 no connection or timeout, -344 an HTTP status other than 200) and
// JSON-RPC codes clients match; our own account of the failure goes inside
// the quotes where python-monerorpc put the original error.
func v1ErrText(err error) string {
	var rpcErr *monerod.RPCError
	var httpErr *monerod.HTTPStatusError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, monerod.ErrUnauthorized):
		return "-344: Received HTTP status code '401'."
	case errors.As(err, &httpErr):
		return fmt.Sprintf("-344: Received HTTP status code '%d'.", httpErr.StatusCode)
	case errors.As(err, &rpcErr):
		return fmt.Sprintf("%d: %s", rpcErr.Code, sanitize(rpcErr.Message))
	case errors.Is(err, monerod.ErrTimeout):
		return "-341: Connection timeout, original error: '" + errText(err) + "'."
	case errors.Is(err, monerod.ErrUnreachable), errors.Is(err, monerod.ErrTLS):
		return "-341: Could not establish a connection, original error: '" + errText(err) + "'."
	default:
		return errText(err)
	}
}

// v1P2PErrText words a failed P2P dial as Python's socket errors read:
// "[Errno 111] Connection refused", "timed out".
func v1P2PErrText(err error) string {
	var errno syscall.Errno
	var netErr net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &errno) && errno != 0:
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return fmt.Sprintf("[Errno %d] %s", int(errno), msg)
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	default:
		return errText(err)
	}
}

// pyTimedelta formats d as Python's str(timedelta) does for whole seconds,
// which is how the old service showed a block's age: "0:15:03",
// "1 day, 2:03:04", "3 days, 0:00:00".
func pyTimedelta(d time.Duration) string {
	d = d.Truncate(time.Second)
	neg := d < 0
	secs := int64(d / time.Second)
	// Python floors to whole days and keeps the rest positive:
	// timedelta(seconds=-1) is "-1 day, 23:59:59".
	days := secs / 86400
	rest := secs % 86400
	if neg && rest != 0 {
		days--
		rest += 86400
	}
	hms := fmt.Sprintf("%d:%02d:%02d", rest/3600, rest%3600/60, rest%60)
	switch days {
	case 0:
		return hms
	case 1, -1:
		return fmt.Sprintf("%d day, %s", days, hms)
	default:
		return fmt.Sprintf("%d days, %s", days, hms)
	}
}
