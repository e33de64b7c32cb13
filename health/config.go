package health

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Check names: the keys of /health's "checks", the values of the check
// label in metrics, and what --health.checks accepts.
const (
	// CheckMonerod: the daemon answers and hard_fork_info.status is OK.
	CheckMonerod = "monerod"
	// CheckLastBlock: the last block is not older than the max age, or the
	// node is at its peers' best height (see Config.LastBlockMaxAge).
	CheckLastBlock = "last_block"
	// CheckPeers: enough peers are synchronized with the node.
	CheckPeers = "peers"
	// CheckSync: the node is synchronized and not too far behind.
	CheckSync = "sync"
	// CheckP2P: the node's P2P port accepts TCP connections.
	CheckP2P = "p2p"
	// CheckChain: the node has the same block at its height as its
	// reference nodes, and is not far behind the best of them.
	CheckChain = "chain"
	// CheckOverall is not a check: it labels the combined status of the
	// enabled checks in metrics, the status /health answers with.
	CheckOverall = "overall"
)

// CheckNames lists every check, in the order reports list them.
func CheckNames() []string {
	return []string{CheckMonerod, CheckLastBlock, CheckPeers, CheckSync, CheckP2P, CheckChain}
}

// Defaults, as the flags and the old service's environment document them.
const (
	// DefaultLastBlockMaxAge is /health's limit, chosen from the rate of
	// false alarms: gaps between blocks are exponential with a 120 s mean,
	// so a healthy node sees 720 x e^(-limit/120 s) gaps a day longer than
	// the limit. 30 minutes: 720 x e^-15, about once in 12 years (12
	// minutes would be 720 x e^-6, 1.8 a day).
	DefaultLastBlockMaxAge = 30 * time.Minute
	// DefaultV1LastBlockMaxAge is the old service's limit, which /api/v1's
	// clients expect.
	DefaultV1LastBlockMaxAge = 12 * time.Minute
	DefaultMinPeers          = 1
	DefaultMaxBlocksBehind   = 10
	// DefaultMaxBlocksBehindReference is how far the best reference node
	// may be ahead before the chain check fails: twenty minutes of
	// mainnet blocks, as for the peers.
	DefaultMaxBlocksBehindReference = 10
	// DefaultOffset and DefaultOffsetUnit are what the old service assumed
	// when OFFSET and OFFSET_UNIT were unset.
	DefaultOffset     = "12"
	DefaultOffsetUnit = "minutes"
)

// Config holds the thresholds and what the checks report. Start from
// DefaultConfig; check the result with Validate before use.
type Config struct {
	// LastBlockMaxAge is the age past which /health's last_block check
	// calls the last block stale (--health.last-block-max-age). A stale
	// tip fails, unless the node is at the best height its peers report:
	// then the network is slow, not the node, and the check warns.
	LastBlockMaxAge time.Duration
	// V1LastBlockMaxAge is the same for /api/v1's last_block, which knows
	// no peers and no warning: the old service's OFFSET and OFFSET_UNIT
	// (see SetOffsetFromEnv), 12 minutes by default.
	V1LastBlockMaxAge time.Duration
	// OffsetUnit is the unit in which /api/v1/last_block shows
	// V1LastBlockMaxAge (block_recent_offset_unit, and the number in
	// block_recent_offset). Set it to OFFSET_UNIT (or DefaultOffsetUnit
	// when that is empty) when the age came from the old service's
	// environment, so that the API shows what the operator wrote. Empty
	// picks the largest unit that divides the age exactly (see OffsetOf),
	// which round-trips: 12m shows as 12 minutes, 90s as 90 seconds.
	OffsetUnit string
	// MinPeers is how many synced peers the peers check wants.
	MinPeers int
	// MaxBlocksBehind is how far (in blocks) a peer may be from the
	// node and still count as synced, and how far the best known height
	// may be ahead of the node's before the sync check fails.
	MaxBlocksBehind uint64
	// OffsetEnv is set when V1LastBlockMaxAge came from the old service's
	// OFFSET and OFFSET_UNIT (see SetOffsetFromEnv): /api/v1/last_block
	// then echoes them as it did.
	OffsetEnv *EnvOffset
	// P2PAddress, host:port, enables the p2p check. The snapshot must be
	// built with the same snapshot.Config.P2PAddress, which does the dial.
	// Its result is always shown in /api/v1/monerod, as the old service
	// showed it; whether it counts is ConsiderP2P's to say.
	P2PAddress string
	// ConsiderP2P counts the p2p check: in the old API's monerod status (the
	// old service's CONSIDER_P2P_STATUS) and in /health's default checks.
	ConsiderP2P bool
	// References names the reference nodes the chain check compares the
	// node with; the snapshot must be built with the same references
	// (snapshot.Config.References), which do the asking. Without any, the
	// chain check is left out.
	References []string
	// MaxBlocksBehindReference is how far (in blocks) the best reference
	// may be ahead of the node before the chain check fails.
	MaxBlocksBehindReference uint64
	// Checks are the checks /health counts (and that make up the overall
	// status). Nil means every check but p2p and chain, plus p2p with
	// ConsiderP2P (see ParseChecks). Listing chain also counts it in the
	// old API's combined status (/api/v1 and /api/v1/health).
	Checks []string
	// DaemonAddress is the monerod host:port shown in the old API's
	// messages ("Daemon: '127.0.0.1:18081'."). Credentials in it are
	// removed before it is shown.
	DaemonAddress string
	// ExporterVersion is shown in /health's description.
	ExporterVersion string
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		LastBlockMaxAge:          DefaultLastBlockMaxAge,
		V1LastBlockMaxAge:        DefaultV1LastBlockMaxAge,
		MinPeers:                 DefaultMinPeers,
		MaxBlocksBehind:          DefaultMaxBlocksBehind,
		MaxBlocksBehindReference: DefaultMaxBlocksBehindReference,
	}
}

// Validate reports a configuration the checks cannot work with, naming the
// setting at fault.
func (c Config) Validate() error {
	var errs []error
	if c.LastBlockMaxAge <= 0 {
		errs = append(errs, fmt.Errorf("last block max age %v must be positive", c.LastBlockMaxAge))
	}
	if c.V1LastBlockMaxAge <= 0 {
		errs = append(errs, fmt.Errorf("/api/v1 last block max age %v must be positive", c.V1LastBlockMaxAge))
	} else if c.V1LastBlockMaxAge%time.Microsecond != 0 {
		// The old API counts in whole microseconds at the finest.
		errs = append(errs, fmt.Errorf("/api/v1 last block max age %v must be a whole number of microseconds", c.V1LastBlockMaxAge))
	} else if c.OffsetUnit != "" {
		per, ok := unitDuration(c.OffsetUnit)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("offset unit %q is not one of %s", c.OffsetUnit, strings.Join(OffsetUnits(), ", ")))
		case c.V1LastBlockMaxAge%per != 0:
			errs = append(errs, fmt.Errorf("/api/v1 last block max age %v is not a whole number of %s", c.V1LastBlockMaxAge, c.OffsetUnit))
		}
	}
	if c.MinPeers < 0 {
		errs = append(errs, fmt.Errorf("min peers %d must not be negative", c.MinPeers))
	}
	if c.Checks != nil && len(c.Checks) == 0 {
		errs = append(errs, errors.New("no health check is enabled"))
	}
	if c.ConsiderP2P && c.P2PAddress == "" {
		errs = append(errs, errors.New("the p2p check counts but no P2P address is set"))
	}
	for _, name := range c.Checks {
		if !slices.Contains(CheckNames(), name) {
			errs = append(errs, fmt.Errorf("unknown health check %q (known: %s)", name, strings.Join(CheckNames(), ", ")))
		}
		if name == CheckP2P && c.P2PAddress == "" {
			errs = append(errs, errors.New("the p2p check is enabled but no P2P address is set"))
		}
		if name == CheckChain && len(c.References) == 0 {
			errs = append(errs, errors.New("the chain check is enabled but no reference node is set"))
		}
	}
	return errors.Join(errs...)
}

// EnabledChecks returns the checks /health counts: Checks, or the default
// when Checks is nil.
func (c Config) EnabledChecks() []string {
	if c.Checks != nil {
		return c.Checks
	}
	checks := []string{CheckMonerod, CheckLastBlock, CheckPeers, CheckSync}
	if c.ConsiderP2P {
		checks = append(checks, CheckP2P)
	}
	return checks
}

// NeedsConnections reports whether a check /health counts reads the
// node's connections (snapshot.Connections), whatever collectors are on:
// peers and sync do, and last_block, whose stale tip is the network's when
// no peer is ahead.
func (c Config) NeedsConnections() bool {
	return slices.ContainsFunc(c.EnabledChecks(), func(check string) bool {
		return check == CheckPeers || check == CheckSync || check == CheckLastBlock
	})
}

// Offset returns V1LastBlockMaxAge as the old API shows it: a number and a
// unit (see OffsetUnit).
func (c Config) Offset() (int64, string) {
	if per, ok := unitDuration(c.OffsetUnit); ok && per > 0 && c.V1LastBlockMaxAge%per == 0 {
		return int64(c.V1LastBlockMaxAge / per), c.OffsetUnit
	}
	return OffsetOf(c.V1LastBlockMaxAge)
}

// OffsetUnits lists the units OFFSET_UNIT accepts: the keyword arguments of
// Python's datetime.timedelta, which the old service passed it to.
func OffsetUnits() []string {
	return []string{"weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds"}
}

func unitDuration(unit string) (time.Duration, bool) {
	switch unit {
	case "weeks":
		return 7 * 24 * time.Hour, true
	case "days":
		return 24 * time.Hour, true
	case "hours":
		return time.Hour, true
	case "minutes":
		return time.Minute, true
	case "seconds":
		return time.Second, true
	case "milliseconds":
		return time.Millisecond, true
	case "microseconds":
		return time.Microsecond, true
	}
	return 0, false
}

// OffsetOf expresses d in the largest unit of OffsetUnits that divides it
// exactly, so that ParseOffset of the result gives d again. A d finer than
// a microsecond is rounded to microseconds.
func OffsetOf(d time.Duration) (int64, string) {
	for _, unit := range OffsetUnits() {
		per, _ := unitDuration(unit)
		if d%per == 0 {
			return int64(d / per), unit
		}
	}
	return int64(d.Round(time.Microsecond) / time.Microsecond), "microseconds"
}

// EnvOffset is the old service's OFFSET and OFFSET_UNIT environment
// variables, as given.
type EnvOffset struct {
	// Offset and Unit are the values as given; empty when unset.
	Offset, Unit string
	// Err is set when Offset is not an integer. The old service then never
	// compared a block's age: its last_block check stayed UNKNOWN with this
	// error, in Python's own words.
	Err error
}

// SetOffsetFromEnv sets /api/v1's last block max age (V1LastBlockMaxAge)
// from the old service's OFFSET and OFFSET_UNIT (empty means unset), reading
// them as it did, so that a deployment that ran it runs here unchanged.
// /health's LastBlockMaxAge is left alone: the old service had no /health,
// and its limit is chosen for a probe (see DefaultLastBlockMaxAge).
//
//   - OFFSET is read as Python's int() reads it (spaces around, a sign,
//     underscores between digits). Not an integer: /api/v1's last_block is
//     UNKNOWN for as long as it runs, with Python's error.
//   - OFFSET_UNIT is one of OffsetUnits, spelled exactly. Another unit: 12
//     minutes, whatever OFFSET says.
//
// Each of these returns a warning that names the value and what is done
// instead. An OFFSET of zero or less, or one too long for a time.Duration,
// is an error: the old service called every block stale, or failed every
// request, with them.
func (c *Config) SetOffsetFromEnv(offset, unit string) (warning string, err error) {
	env := &EnvOffset{Offset: offset, Unit: unit}
	n, _ := strconv.ParseInt(DefaultOffset, 10, 64)
	if offset != "" {
		v, perr := pyInt(offset)
		switch {
		case errors.Is(perr, strconv.ErrRange):
			return "", fmt.Errorf("OFFSET %q is out of range", offset)
		case perr != nil:
			env.Err = fmt.Errorf("invalid literal for int() with base 10: %s", pyRepr(offset))
			c.V1LastBlockMaxAge, c.OffsetUnit, c.OffsetEnv = DefaultV1LastBlockMaxAge, DefaultOffsetUnit, env
			return fmt.Sprintf("OFFSET %q is not an integer: /api/v1's last_block answers UNKNOWN until it is, as monero_health_check did", offset), nil
		}
		n = v
	}
	u := unit
	if u == "" {
		u = DefaultOffsetUnit
	}
	per, ok := unitDuration(u)
	if !ok {
		c.V1LastBlockMaxAge, c.OffsetUnit, c.OffsetEnv = DefaultV1LastBlockMaxAge, DefaultOffsetUnit, env
		return fmt.Sprintf("OFFSET_UNIT %q is not one of %s: using %s %s instead, as monero_health_check did",
			unit, strings.Join(OffsetUnits(), ", "), DefaultOffset, DefaultOffsetUnit), nil
	}
	switch {
	case n <= 0:
		return "", fmt.Errorf("OFFSET %d must be positive (monero_health_check called every block stale with it)", n)
	case n > math.MaxInt64/int64(per):
		return "", fmt.Errorf("OFFSET %d %s is too long (the most is %d %s)", n, u, math.MaxInt64/int64(per), u)
	}
	c.V1LastBlockMaxAge, c.OffsetUnit, c.OffsetEnv = time.Duration(n)*per, u, env
	return "", nil
}

// pyInt parses s as Python's int(s) does for base 10: surrounding white
// space, an optional sign, ASCII digits with single underscores between them.
func pyInt(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t != "" && (t[0] == '+' || t[0] == '-') {
		t = t[1:]
		if t == "" {
			return 0, strconv.ErrSyntax
		}
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '_' && i > 0 && i < len(t)-1 && t[i-1] != '_':
		default:
			return 0, strconv.ErrSyntax
		}
	}
	if t == "" {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), "_", ""), 10, 64)
	if err != nil {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) {
			return 0, numErr.Err
		}
		return 0, err
	}
	return n, nil
}

// pyRepr quotes s as Python's repr of a str does: single quotes, or double
// quotes when s holds a single quote and no double quote.
func pyRepr(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\' || r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// ParseChecks reads a comma-separated list of check names, as
// --health.checks takes it. Spaces and empty items are ignored, and
// duplicates dropped. An empty list returns nil, which Config reads as the
// default set.
func ParseChecks(list string) ([]string, error) {
	var checks []string
	for item := range strings.SplitSeq(list, ",") {
		name := strings.TrimSpace(item)
		if name == "" || slices.Contains(checks, name) {
			continue
		}
		if !slices.Contains(CheckNames(), name) {
			return nil, fmt.Errorf("unknown health check %q (known: %s)", name, strings.Join(CheckNames(), ", "))
		}
		checks = append(checks, name)
	}
	return checks, nil
}
