package monerod

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// ParseAddress turns the forms operators write for a monerod RPC address into
// a base URL: a bare host ("127.0.0.1", as users of the older Python service
// set it), "host:port", "[::1]:18081", or a full http:// or https:// URL that
// may carry a path prefix (a node behind a reverse proxy). defaultPort is used
// when the address names no port.
//
// Credentials inside the URL are refused rather than used, so that a password
// never ends up in a flag, a log line or a process listing.
//
// What an error repeats, as a rule: the address, quoted, only when it holds
// no '@'. Userinfo ("user:pass@") can only stand before an '@', and where an
// '@' sits in a malformed address cannot be told reliably ("#://0@" is a
// fragment to url.Parse but may be a typed password to the operator), so an
// address with an '@' anywhere is never repeated, not even in part: the
// error names only what is wrong with it. Every other error may quote the
// address whole, since it holds no '@' by then.
func ParseAddress(addr string, defaultPort int) (*url.URL, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, fmt.Errorf("monerod address is empty")
	}
	if defaultPort < 1 || defaultPort > 65535 {
		return nil, fmt.Errorf("monerod port %d is out of range 1-65535", defaultPort)
	}
	if strings.Contains(addr, "@") {
		return nil, fmt.Errorf("monerod address must not carry credentials (it contains an at sign); use --monerod.rpc-user and MONEROD_RPC_PASSWORD or --monerod.rpc-password-file")
	}
	if strings.Contains(addr, "://") {
		return parseURL(addr, defaultPort)
	}
	if strings.ContainsAny(addr, "/?# \t") {
		return nil, fmt.Errorf("monerod address %q is neither host, host:port nor an http(s) URL", addr)
	}
	host, port, err := splitHostPort(addr, defaultPort)
	if err != nil {
		return nil, fmt.Errorf("monerod address %q: %w", addr, err)
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}, nil
}

func parseURL(addr string, defaultPort int) (*url.URL, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("monerod URL %q is malformed: %w", addr, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("monerod URL %q: scheme must be http or https", addr)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("monerod URL %q must not have a query or fragment", addr)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("monerod URL %q has no host", addr)
	}
	host, port, err := splitHostPort(u.Host, defaultPort)
	if err != nil {
		return nil, fmt.Errorf("monerod URL %q: %w", addr, err)
	}
	return &url.URL{
		Scheme: u.Scheme,
		Host:   net.JoinHostPort(host, port),
		Path:   strings.TrimRight(u.Path, "/"), // the client appends "/json_rpc"
	}, nil
}

// splitHostPort accepts host, host:port, [v6] and [v6]:port, and a bare IPv6
// literal, and checks that the port is a number in range.
func splitHostPort(hostport string, defaultPort int) (host, port string, err error) {
	if ip := net.ParseIP(hostport); ip != nil && strings.Contains(hostport, ":") {
		return hostport, strconv.Itoa(defaultPort), nil // bare IPv6 literal
	}
	if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
		if !strings.Contains(host, ":") {
			return "", "", fmt.Errorf("%q in brackets is not an IPv6 address", host)
		}
		if err := checkHost(host); err != nil {
			return "", "", err
		}
		return host, strconv.Itoa(defaultPort), nil
	}
	host, port, err = net.SplitHostPort(hostport)
	if err != nil {
		if !strings.Contains(hostport, ":") {
			host, port = hostport, strconv.Itoa(defaultPort)
		} else {
			return "", "", fmt.Errorf("cannot split host and port")
		}
	}
	if host == "" {
		return "", "", fmt.Errorf("host is empty")
	}
	if err := checkHost(host); err != nil {
		return "", "", err
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n < 1 {
		return "", "", fmt.Errorf("port %q is not a number in 1-65535", port)
	}
	return host, strconv.FormatUint(n, 10), nil
}

// checkHost accepts an IP address (IPv6 with an optional zone) or a host name
// of letters, digits, '-', '_' and '.': what a URL can carry and a dialer use.
func checkHost(host string) error {
	if strings.Contains(host, ":") {
		ip, zone, hasZone := strings.Cut(host, "%")
		if addr, err := netip.ParseAddr(ip); err != nil || !addr.Is6() || (hasZone && !isName(zone)) {
			return fmt.Errorf("host %q is not an IPv6 address", host)
		}
		return nil
	}
	if !isName(host) {
		return fmt.Errorf("host %q is malformed", host)
	}
	return nil
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != '-' && r != '_' && r != '.' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}
