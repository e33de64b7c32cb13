package health

import (
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

func TestParseOffset(t *testing.T) {
	for _, tc := range []struct {
		offset, unit string
		want         time.Duration
		err          string
	}{
		{"", "", 12 * time.Minute, ""},
		{"12", "minutes", 12 * time.Minute, ""},
		{" 12 ", " minutes ", 12 * time.Minute, ""},
		{"+3", "", 3 * time.Minute, ""},
		{"30", "", 30 * time.Minute, ""},
		{"", "hours", 12 * time.Hour, ""},
		{"2", "weeks", 14 * 24 * time.Hour, ""},
		{"1", "days", 24 * time.Hour, ""},
		{"720", "seconds", 12 * time.Minute, ""},
		{"1500", "milliseconds", 1500 * time.Millisecond, ""},
		{"7", "microseconds", 7 * time.Microsecond, ""},
		{"12", "Minutes", 0, `OFFSET_UNIT "Minutes" is not one of weeks, days, hours, minutes, seconds, milliseconds, microseconds`},
		{"12", "minute", 0, `OFFSET_UNIT "minute" is not one of`},
		{"12", "nanoseconds", 0, `OFFSET_UNIT "nanoseconds" is not one of`},
		{"12.5", "minutes", 0, `OFFSET "12.5" is not an integer`},
		{"12m", "", 0, `OFFSET "12m" is not an integer`},
		{"twelve", "", 0, `OFFSET "twelve" is not an integer`},
		{"0", "", 0, "OFFSET 0 must be positive"},
		{"-5", "", 0, "OFFSET -5 must be positive"},
		{"99999999999999999999", "", 0, `OFFSET "99999999999999999999" is out of range`},
		{"100000", "weeks", 0, "OFFSET 100000 weeks is too long (the most is 15250 weeks)"},
	} {
		got, err := ParseOffset(tc.offset, tc.unit)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseOffset(%q, %q): %v", tc.offset, tc.unit, err)
		case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
			t.Errorf("ParseOffset(%q, %q) error = %v, want %q", tc.offset, tc.unit, err, tc.err)
		case got != tc.want:
			t.Errorf("ParseOffset(%q, %q) = %v, want %v", tc.offset, tc.unit, got, tc.want)
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
		cfg := Config{LastBlockMaxAge: tc.age, OffsetUnit: tc.unit}
		n, unit := cfg.Offset()
		if n != tc.n || unit != tc.want {
			t.Errorf("Offset(%v, %q) = %d %s, want %d %s", tc.age, tc.unit, n, unit, tc.n, tc.want)
		}
		if tc.unit == "" || tc.unit == unit {
			back, err := ParseOffset(strconv.FormatInt(n, 10), unit)
			if err != nil || back != tc.age {
				t.Errorf("ParseOffset(%d, %s) = %v, %v; does not round-trip %v", n, unit, back, err, tc.age)
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
		{"monerod,last_block,peers,sync,p2p", CheckNames(), ""},
		{"monerod,overall", nil, `unknown health check "overall" (known: monerod, last_block, peers, sync, p2p)`},
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
		{"nanoseconds", func(c *Config) { c.LastBlockMaxAge = time.Second + 1 }, "must be a whole number of microseconds"},
		{"bad offset unit", func(c *Config) { c.OffsetUnit = "fortnights" }, `offset unit "fortnights" is not one of`},
		{
			"offset unit that does not divide", func(c *Config) { c.LastBlockMaxAge = 90 * time.Second; c.OffsetUnit = "minutes" },
			"last block max age 1m30s is not a whole number of minutes",
		},
		{"negative min peers", func(c *Config) { c.MinPeers = -1 }, "min peers -1 must not be negative"},
		{"empty checks", func(c *Config) { c.Checks = []string{} }, "no health check is enabled"},
		{"unknown check", func(c *Config) { c.Checks = []string{"disk"} }, `unknown health check "disk"`},
		{"p2p without address", func(c *Config) { c.Checks = []string{CheckP2P} }, "the p2p check is enabled but no P2P address is set"},
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
	if got := cfg.EnabledChecks(); !slices.Equal(got, CheckNames()) {
		t.Errorf("default checks with a P2P address = %q", got)
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
