package main

// The environment of monero_health_check's image, read as that service read
// it, so that a deployment can swap the image and keep its environment.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// rpcURLFromEnv returns the monerod address to use when --monerod.rpc-url
// was not given on the command line. value is the flag's, which holds
// MONEROD_RPC_URL when that is set. The old service read MONEROD_URL (its
// README named MONEROD_RPC_URL, which it never read; its image set it, its
// compose template set MONEROD_URL): either works, and two that name
// different nodes stop the exporter rather than leave it to a guess.
func rpcURLFromEnv(value string, port int, parse func(string, int) (string, error)) (string, error) {
	legacy := os.Getenv("MONEROD_URL")
	rpc := os.Getenv("MONEROD_RPC_URL")
	switch {
	case legacy == "":
		return value, nil
	case rpc == "":
		return legacy, nil
	}
	a, errA := parse(legacy, port)
	b, errB := parse(rpc, port)
	if errA != nil || errB != nil || a != b {
		if errA == nil && errB == nil {
			return "", fmt.Errorf("MONEROD_URL (%s) and MONEROD_RPC_URL (%s) name different monerods: set only one of them", a, b)
		}
		return "", fmt.Errorf("MONEROD_URL and MONEROD_RPC_URL are both set and differ: set only one of them")
	}
	return legacy, nil
}

// strtobool reads a boolean as Python's distutils.util.strtobool did, which
// the old service applied to CONSIDER_P2P_STATUS.
func strtobool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "y", "yes", "t", "true", "on", "1":
		return true, nil
	case "n", "no", "f", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("invalid truth value %q", s)
}

// considerP2PFromEnv reads CONSIDER_P2P_STATUS: whether it is set, and its
// value. A value strtobool does not take is false, as it was for the old
// service, with a warning.
func considerP2PFromEnv() (consider, set bool, warning string) {
	v := os.Getenv("CONSIDER_P2P_STATUS")
	if v == "" {
		return false, false, ""
	}
	b, err := strtobool(v)
	if err != nil {
		return false, true, fmt.Sprintf("CONSIDER_P2P_STATUS %q is not one of y, yes, t, true, on, 1, n, no, f, false, off, 0: using false, as monero_health_check did", v)
	}
	return b, true, ""
}

// timeoutFromEnv reads HTTP_TIMEOUT, the old service's RPC timeout in
// seconds, for when neither --monerod.timeout nor MONEROD_TIMEOUT is given.
// A value that is not a positive number of seconds keeps def, with a warning.
func timeoutFromEnv(def time.Duration) (d time.Duration, warning string) {
	v := os.Getenv("HTTP_TIMEOUT")
	if v == "" || os.Getenv("MONEROD_TIMEOUT") != "" {
		return def, ""
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(secs > 0 && secs <= 24*3600) { // also refuses NaN
		return def, fmt.Sprintf("HTTP_TIMEOUT %q is not a number of seconds from 0 to 86400: using %s", v, def)
	}
	return time.Duration(secs * float64(time.Second)), ""
}

// listenAddressFromEnv reads PORT, the old image's listen port (on every
// address), for when --web.listen-address is not given.
func listenAddressFromEnv() (addr string, ok bool, err error) {
	v := os.Getenv("PORT")
	if v == "" {
		return "", false, nil
	}
	if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 65535 {
		return "", false, fmt.Errorf("PORT %q is not a port number (1 to 65535)", v)
	}
	return ":" + v, true, nil
}
