package monerod

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// ParseAddress turns the forms operators write for a monerod RPC address into
// a base URL: a bare host ("127.0.0.1", as users of the older Python service
// set it), "host:port", "[::1]:18081", or a full http:// or https:// URL that
// may carry a path prefix (a node behind a reverse proxy). defaultPort is used
// when the address names no port.
//
// Credentials inside the URL are refused rather than used, so that a password
// never ends up in a flag, a log line or a process listing; the error never
// repeats the address when it carries them.
func ParseAddress(addr string, defaultPort int) (*url.URL, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, fmt.Errorf("monerod address is empty")
	}
	if defaultPort < 1 || defaultPort > 65535 {
		return nil, fmt.Errorf("monerod port %d is out of range 1-65535", defaultPort)
	}
	if strings.Contains(addr, "://") {
		return parseURL(addr, defaultPort)
	}
	if strings.Contains(addr, "@") {
		return nil, fmt.Errorf("monerod address must not carry credentials; use --monerod.rpc-user and MONEROD_RPC_PASSWORD or --monerod.rpc-password-file")
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
		if strings.Contains(addr, "@") {
			return nil, fmt.Errorf("monerod URL is malformed")
		}
		return nil, fmt.Errorf("monerod URL %q is malformed: %w", addr, err)
	}
	if u.User != nil {
		return nil, fmt.Errorf("monerod URL must not carry credentials; use --monerod.rpc-user and MONEROD_RPC_PASSWORD or --monerod.rpc-password-file")
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
		Path:   strings.TrimSuffix(u.Path, "/"),
	}, nil
}

// splitHostPort accepts host, host:port, [v6] and [v6]:port, and a bare IPv6
// literal, and checks that the port is a number in range.
func splitHostPort(hostport string, defaultPort int) (host, port string, err error) {
	if ip := net.ParseIP(hostport); ip != nil && strings.Contains(hostport, ":") {
		return hostport, strconv.Itoa(defaultPort), nil // bare IPv6 literal
	}
	if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		return strings.Trim(hostport, "[]"), strconv.Itoa(defaultPort), nil
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
	if strings.ContainsAny(host, "[]") {
		return "", "", fmt.Errorf("host %q is malformed", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("port %q is not a number in 1-65535", port)
	}
	return host, strconv.Itoa(n), nil
}
