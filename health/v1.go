package health

import (
	"fmt"
	"time"

	"github.com/monero-ops/monero_exporter/snapshot"
)

// The bodies of the old service's /api/v1 endpoints. Flask's jsonify sorted
// the keys, so the fields below are in alphabetical order: the bodies come
// out byte for byte in the order its clients saw.

// v1Unread is what the old service showed for a value it could not read.
const v1Unread = "---"

// v1TimeFormat is the old service's timestamp format (Python's isoformat of
// a naive UTC datetime without microseconds).
const v1TimeFormat = "2006-01-02T15:04:05"

// v1Envelope wraps every /api/v1 body.
type v1Envelope struct {
	Result any `json:"result"`
}

// v1Status is {"status": ...}, the body of the .../health endpoints and the
// "health" key of the others.
type v1Status struct {
	Status string `json:"status"`
}

// v1Error is the error key of a single check that is not OK.
type v1Error struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// v1LastBlock is /api/v1/last_block.
type v1LastBlock struct {
	BlockRecent           bool     `json:"block_recent"`
	BlockRecentOffset     int64    `json:"block_recent_offset"`
	BlockRecentOffsetUnit string   `json:"block_recent_offset_unit"`
	BlockTimestamp        string   `json:"block_timestamp"`
	CheckTimestamp        string   `json:"check_timestamp"`
	Error                 *v1Error `json:"error,omitempty"`
	Hash                  string   `json:"hash"`
	Health                v1Status `json:"health"`
}

// v1Monerod is /api/v1/monerod.
type v1Monerod struct {
	Error  *v1Error `json:"error,omitempty"`
	Health v1Status `json:"health"`
	// Version is the hard-fork version, or "---" when unread.
	Version any `json:"version"`
}

// v1Combined is /api/v1. Its nested checks keep their error keys, as the
// old service's did; only the combined level has none.
type v1Combined struct {
	Health    v1Status    `json:"health"`
	LastBlock v1LastBlock `json:"last_block"`
	Monerod   v1Monerod   `json:"monerod"`
}

// v1Combine is the status of /api/v1 and /api/v1/health: the monerod and
// last_block checks only, like the old service, whatever /health counts.
func v1Combine(rep *Report) Status {
	mon, _ := rep.Result(CheckMonerod)
	lb, _ := rep.Result(CheckLastBlock)
	return Worst(mon.Status, lb.Status)
}

// cannotDetermine is the old service's message for a check it could not
// evaluate.
func cannotDetermine(cfg Config) string {
	return fmt.Sprintf("Cannot determine daemon status. Daemon: '%s'.", sanitizeAddress(cfg.DaemonAddress))
}

// v1MonerodBody builds /api/v1/monerod.
func v1MonerodBody(snap *snapshot.Snapshot, rep *Report, cfg Config) v1Monerod {
	res, _ := rep.Result(CheckMonerod)
	body := v1Monerod{Health: v1Status{res.Status.V1()}, Version: v1Unread}
	if snap.HardFork != nil {
		body.Version = snap.HardFork.Version
	}
	switch res.Status {
	case StatusOK, StatusWarn:
	case StatusError:
		body.Error = &v1Error{
			Error:   errText(res.Err),
			Message: fmt.Sprintf("Daemon status is '%s'. Daemon: '%s'.", res.Status.V1(), sanitizeAddress(cfg.DaemonAddress)),
		}
	default:
		body.Error = &v1Error{Error: errText(res.Err), Message: cannotDetermine(cfg)}
	}
	return body
}

// v1LastBlockBody builds /api/v1/last_block.
func v1LastBlockBody(snap *snapshot.Snapshot, rep *Report, cfg Config) v1LastBlock {
	res, _ := rep.Result(CheckLastBlock)
	offset, unit := cfg.Offset()
	body := v1LastBlock{
		BlockRecent:           res.Status == StatusOK,
		BlockRecentOffset:     offset,
		BlockRecentOffsetUnit: unit,
		BlockTimestamp:        v1Unread,
		CheckTimestamp:        snap.Time.UTC().Format(v1TimeFormat),
		Hash:                  v1Unread,
		Health:                v1Status{res.Status.V1()},
	}
	if lb := snap.LastBlock; lb != nil && snap.Info != nil {
		body.BlockTimestamp = time.Unix(lb.Timestamp, 0).UTC().Format(v1TimeFormat)
		body.Hash = lb.Hash
	}
	switch res.Status {
	case StatusOK, StatusWarn:
	case StatusError:
		body.Error = &v1Error{
			Error:   fmt.Sprintf("Last block's age is '%s'.", pyTimedelta(blockAge(snap))),
			Message: fmt.Sprintf("Last block's timestamp is older than '%d [%s]'.", offset, unit),
		}
	default:
		body.Error = &v1Error{Error: errText(res.Err), Message: cannotDetermine(cfg)}
	}
	return body
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
