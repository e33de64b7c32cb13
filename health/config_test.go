package health

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStatusStrings(t *testing.T) {
	for _, tc := range []struct {
		s                Status
		str, v1, probe   string
		severityAboveAll []Status
	}{
		{StatusOK, "ok", "OK", "pass", nil},
		{StatusWarn, "warn", "OK", "warn", []Status{StatusOK}},
		{StatusUnknown, "unknown", "UNKNOWN", "fail", []Status{StatusOK, StatusWarn}},
		{StatusError, "error", "ERROR", "fail", []Status{StatusOK, StatusWarn, StatusUnknown}},
	} {
		if got := tc.s.String(); got != tc.str {
			t.Errorf("%d.String() = %q, want %q", tc.s, got, tc.str)
		}
		if got := tc.s.V1(); got != tc.v1 {
			t.Errorf("%v.V1() = %q, want %q", tc.s, got, tc.v1)
		}
		if got := tc.s.Probe(); got != tc.probe {
			t.Errorf("%v.Probe() = %q, want %q", tc.s, got, tc.probe)
		}
		for _, lower := range tc.severityAboveAll {
			if Worst(tc.s, lower) != tc.s || Worst(lower, tc.s) != tc.s {
				t.Errorf("Worst(%v, %v) is not %v", tc.s, lower, tc.s)
			}
		}
	}
	var zero Status
	if zero != StatusUnknown {
		t.Errorf("zero Status is %v, want unknown: a check must never pass by omission", zero)
	}
	if Worst() != StatusOK {
		t.Errorf("Worst() = %v, want ok", Worst())
	}
	if got := len(Statuses()); got != 4 {
		t.Errorf("Statuses() has %d values, want 4", got)
	}
}

func TestSetOffsetFromEnv(t *testing.T) {
	const units = "weeks, days, hours, minutes, seconds, milliseconds, microseconds"
	for _, tc := range []struct {
		offset, unit string
		want         time.Duration
		wantUnit     string
		pyErr        string // EnvOffset.Err: OFFSET is not an integer
		warning      string
		err          string
	}{
		{offset: "", unit: "", want: 12 * time.Minute, wantUnit: "minutes"},
		{offset: "12", unit: "minutes", want: 12 * time.Minute, wantUnit: "minutes"},
		// Python's int() takes spaces, a sign, underscores and leading zeros.
		{offset: " 12 ", want: 12 * time.Minute, wantUnit: "minutes"},
		{offset: "+3", want: 3 * time.Minute, wantUnit: "minutes"},
		{offset: "1_0", want: 10 * time.Minute, wantUnit: "minutes"},
		{offset: "010", want: 10 * time.Minute, wantUnit: "minutes"},
		{offset: "30", want: 30 * time.Minute, wantUnit: "minutes"},
		{unit: "hours", want: 12 * time.Hour, wantUnit: "hours"},
		{offset: "2", unit: "weeks", want: 14 * 24 * time.Hour, wantUnit: "weeks"},
		{offset: "2", unit: "days", want: 48 * time.Hour, wantUnit: "days"},
		{offset: "720", unit: "seconds", want: 12 * time.Minute, wantUnit: "seconds"},
		{offset: "1500", unit: "milliseconds", want: 1500 * time.Millisecond, wantUnit: "milliseconds"},
		{offset: "7", unit: "microseconds", want: 7 * time.Microsecond, wantUnit: "microseconds"},
		// A unit timedelta does not take: 12 minutes, whatever OFFSET says.
		{
			offset: "10", unit: "Hours", want: 12 * time.Minute, wantUnit: "minutes",
			warning: `OFFSET_UNIT "Hours" is not one of ` + units + `: using 12 minutes instead, as monero_health_check did`,
		},
		{unit: "fortnights", want: 12 * time.Minute, wantUnit: "minutes", warning: `OFFSET_UNIT "fortnights" is not one of`},
		{offset: "-5", unit: " minutes", want: 12 * time.Minute, wantUnit: "minutes", warning: `OFFSET_UNIT " minutes" is not one of`},
		// Not an integer: /api/v1's last_block stays UNKNOWN, with Python's words.
		{
			offset: "abc", want: 12 * time.Minute, wantUnit: "minutes", pyErr: "invalid literal for int() with base 10: 'abc'",
			warning: `OFFSET "abc" is not an integer: /api/v1's last_block answers UNKNOWN until it is, as monero_health_check did`,
		},
		{
			offset: "12.5", unit: "fortnights", want: 12 * time.Minute, wantUnit: "minutes", pyErr: "invalid literal for int() with base 10: '12.5'",
			warning: `OFFSET "12.5" is not an integer`,
		},
		{offset: "it's", want: 12 * time.Minute, wantUnit: "minutes", pyErr: `invalid literal for int() with base 10: "it's"`, warning: "OFFSET"},
		{offset: "1__0", want: 12 * time.Minute, wantUnit: "minutes", pyErr: "invalid literal for int() with base 10: '1__0'", warning: "OFFSET"},
		{offset: "_1", want: 12 * time.Minute, wantUnit: "minutes", pyErr: "invalid literal for int() with base 10: '_1'", warning: "OFFSET"},
		{offset: "-", want: 12 * time.Minute, wantUnit: "minutes", pyErr: "invalid literal for int() with base 10: '-'", warning: "OFFSET"},
		// What the old service could not run with either.
		{offset: "0", err: "OFFSET 0 must be positive"},
		{offset: "-5", err: "OFFSET -5 must be positive"},
		{offset: "99999999999999999999", err: `OFFSET "99999999999999999999" is out of range`},
		{offset: "100000", unit: "weeks", err: "OFFSET 100000 weeks is too long (the most is 15250 weeks)"},
	} {
		name := fmt.Sprintf("OFFSET=%q OFFSET_UNIT=%q", tc.offset, tc.unit)
		cfg := DefaultConfig()
		warning, err := cfg.SetOffsetFromEnv(tc.offset, tc.unit)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%s: error = %v, want %q", name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if cfg.V1LastBlockMaxAge != tc.want || cfg.OffsetUnit != tc.wantUnit {
			t.Errorf("%s: /api/v1 max age %v %q, want %v %q", name, cfg.V1LastBlockMaxAge, cfg.OffsetUnit, tc.want, tc.wantUnit)
		}
		// /health has its own limit, which the old service's variables
		// do not touch.
		if cfg.LastBlockMaxAge != DefaultLastBlockMaxAge {
			t.Errorf("%s: /health max age %v, want %v", name, cfg.LastBlockMaxAge, DefaultLastBlockMaxAge)
		}
		if e := cfg.OffsetEnv; e == nil || e.Offset != tc.offset || e.Unit != tc.unit {
			t.Errorf("%s: OffsetEnv = %+v, want the values as given", name, e)
		} else if got := errText(e.Err); got != tc.pyErr {
			t.Errorf("%s: OffsetEnv.Err = %q, want %q", name, got, tc.pyErr)
		}
		if (tc.warning == "") != (warning == "") || !strings.HasPrefix(warning, tc.warning) {
			t.Errorf("%s: warning %q, want %q", name, warning, tc.warning)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
	}
}

func TestOffsetDisplay(t *testing.T) {
	for _, tc := range []struct {
		age  time.Duration
		unit string // Config.OffsetUnit
		n    int64
		want string
	}{
		{12 * time.Minute, "", 12, "minutes"},
		{90 * time.Second, "", 90, "seconds"},
		{time.Hour, "", 1, "hours"},
		{36 * time.Hour, "", 36, "hours"},
		{48 * time.Hour, "", 2, "days"},
		{14 * 24 * time.Hour, "", 2, "weeks"},
		{1500 * time.Millisecond, "", 1500, "milliseconds"},
		{2 * time.Microsecond, "", 2, "microseconds"},
		// What the operator wrote in OFFSET_UNIT is kept.
		{12 * time.Minute, "seconds", 720, "seconds"},
		{time.Hour, "minutes", 60, "minutes"},
		// A unit that does not divide falls back to the exact display.
		{90 * time.Second, "minutes", 90, "seconds"},
	} {
		cfg := Config{V1LastBlockMaxAge: tc.age, OffsetUnit: tc.unit}
		n, unit := cfg.Offset()
		if n != tc.n || unit != tc.want {
			t.Errorf("Offset(%v, %q) = %d %s, want %d %s", tc.age, tc.unit, n, unit, tc.n, tc.want)
		}
		if tc.unit == "" || tc.unit == unit {
			back := DefaultConfig()
			if _, err := back.SetOffsetFromEnv(strconv.FormatInt(n, 10), unit); err != nil || back.V1LastBlockMaxAge != tc.age {
				t.Errorf("SetOffsetFromEnv(%d, %s) = %v, %v; does not round-trip %v", n, unit, back.V1LastBlockMaxAge, err, tc.age)
			}
		}
	}
	if n, unit := OffsetOf(1500 * time.Nanosecond); n != 2 || unit != "microseconds" {
		t.Errorf("OffsetOf(1.5µs) = %d %s, want 2 microseconds", n, unit)
	}
}

func TestParseChecks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{" , ", nil, ""},
		{"monerod", []string{"monerod"}, ""},
		{"monerod,last_block", []string{"monerod", "last_block"}, ""},
		{" sync , peers ,, sync", []string{"sync", "peers"}, ""},
		{"monerod,last_block,peers,sync,p2p,chain", CheckNames(), ""},
		{"monerod,overall", nil, `unknown health check "overall" (known: monerod, last_block, peers, sync, p2p, chain)`},
		{"Monerod", nil, `unknown health check "Monerod"`},
	} {
		got, err := ParseChecks(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseChecks(%q): %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
			t.Errorf("ParseChecks(%q) error = %v, want %q", tc.in, err, tc.err)
		case !slices.Equal(got, tc.want):
			t.Errorf("ParseChecks(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		err  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"p2p with address", func(c *Config) { c.P2PAddress = "127.0.0.1:18080"; c.Checks = []string{CheckP2P} }, ""},
		{"offset unit that divides", func(c *Config) { c.OffsetUnit = "seconds" }, ""},
		{"zero max age", func(c *Config) { c.LastBlockMaxAge = 0 }, "last block max age 0s must be positive"},
		{"negative max age", func(c *Config) { c.LastBlockMaxAge = -time.Minute }, "must be positive"},
		// /health's limit is any positive duration: only /api/v1 shows its
		// limit, in the old service's units.
		{"nanoseconds for /health", func(c *Config) { c.LastBlockMaxAge = time.Second + 1 }, ""},
		{"minutes for /health, seconds for /api/v1", func(c *Config) { c.LastBlockMaxAge = 90 * time.Second; c.OffsetUnit = "minutes" }, ""},
		{"zero /api/v1 max age", func(c *Config) { c.V1LastBlockMaxAge = 0 }, "/api/v1 last block max age 0s must be positive"},
		{"nanoseconds for /api/v1", func(c *Config) { c.V1LastBlockMaxAge = time.Second + 1 }, "must be a whole number of microseconds"},
		{"bad offset unit", func(c *Config) { c.OffsetUnit = "fortnights" }, `offset unit "fortnights" is not one of`},
		{
			"offset unit that does not divide", func(c *Config) { c.V1LastBlockMaxAge = 90 * time.Second; c.OffsetUnit = "minutes" },
			"/api/v1 last block max age 1m30s is not a whole number of minutes",
		},
		{"negative min peers", func(c *Config) { c.MinPeers = -1 }, "min peers -1 must not be negative"},
		{"empty checks", func(c *Config) { c.Checks = []string{} }, "no health check is enabled"},
		{"unknown check", func(c *Config) { c.Checks = []string{"disk"} }, `unknown health check "disk"`},
		{"p2p without address", func(c *Config) { c.Checks = []string{CheckP2P} }, "the p2p check is enabled but no P2P address is set"},
		{"p2p considered without address", func(c *Config) { c.ConsiderP2P = true }, "the p2p check counts but no P2P address is set"},
		{"chain with references", func(c *Config) { c.References = []string{"node2"}; c.Checks = []string{CheckMonerod, CheckChain} }, ""},
		{"chain without references", func(c *Config) { c.Checks = []string{CheckChain} }, "the chain check is enabled but no reference node is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mod(&cfg)
			err := cfg.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("Validate error = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestEnabledChecks(t *testing.T) {
	cfg := DefaultConfig()
	if got := cfg.EnabledChecks(); !slices.Equal(got, []string{"monerod", "last_block", "peers", "sync"}) {
		t.Errorf("default checks = %q", got)
	}
	cfg.P2PAddress = "node:18080"
	if got := cfg.EnabledChecks(); !slices.Equal(got, []string{"monerod", "last_block", "peers", "sync"}) {
		t.Errorf("default checks with a P2P address = %q; it is dialled, not counted", got)
	}
	cfg.ConsiderP2P = true
	if got := cfg.EnabledChecks(); !slices.Equal(got, []string{"monerod", "last_block", "peers", "sync", "p2p"}) {
		t.Errorf("default checks considering P2P = %q", got)
	}
	// References are asked, and the chain check evaluated, but it counts
	// only when listed: it changes what /health and /api/v1 answer.
	cfg.References = []string{"node2"}
	if got := cfg.EnabledChecks(); slices.Contains(got, CheckChain) {
		t.Errorf("default checks with references = %q; chain counts only when listed", got)
	}
	cfg.Checks = []string{CheckSync}
	if got := cfg.EnabledChecks(); !slices.Equal(got, []string{"sync"}) {
		t.Errorf("explicit checks = %q", got)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"no url here": "no url here",
		`Post "http://user:secret@127.0.0.1:18081/json_rpc": EOF`: `Post "http://127.0.0.1:18081/json_rpc": EOF`,
		"https://a:b@host and http://c@d/e":                       "https://host and http://d/e",
		"http://host/p@th":                                        "http://host/p@th",
		"http://us@er:p@ss@host:1":                                "http://host:1",
		"ends with ://":                                           "ends with ://",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"127.0.0.1:18081":                 "127.0.0.1:18081",
		"user:secret@127.0.0.1:18081":     "127.0.0.1:18081",
		"http://user:secret@node:18081/x": "http://node:18081/x",
	} {
		if got := sanitizeAddress(in); got != want {
			t.Errorf("sanitizeAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPyTimedelta(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0:00:00",
		47*time.Minute + 5*time.Second:     "0:47:05",
		26*time.Hour + 3*time.Minute + 4e9: "1 day, 2:03:04",
		72 * time.Hour:                     "3 days, 0:00:00",
		1500 * time.Millisecond:            "0:00:01",
		-time.Second:                       "-1 day, 23:59:59",
		-24 * time.Hour:                    "-1 day, 0:00:00",
		-50 * time.Hour:                    "-3 days, 22:00:00",
	} {
		if got := pyTimedelta(d); got != want {
			t.Errorf("pyTimedelta(%v) = %q, want %q", d, got, want)
		}
	}
}
