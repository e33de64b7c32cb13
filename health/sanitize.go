package health

import "strings"

// sanitize removes the user information of every URL in s
// ("http://user:pass@host" becomes "http://host"). The monerod client never
// puts credentials in a URL or an error, but what the health endpoints show
// is public, so it is checked once more here.
func sanitize(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		// The authority ends at the first '/', '?', '#', quote or space;
		// a '@' before that ends the user information.
		end := strings.IndexAny(s, "/?#\"' \t\n")
		if end < 0 {
			end = len(s)
		}
		if at := strings.LastIndexByte(s[:end], '@'); at >= 0 {
			s = s[at+1:]
		}
	}
}

// sanitizeAddress removes credentials from an address that may be written
// as a URL or as user:pass@host:port.
func sanitizeAddress(addr string) string {
	addr = sanitize(addr)
	if !strings.Contains(addr, "://") {
		if at := strings.LastIndexByte(addr, '@'); at >= 0 {
			addr = addr[at+1:]
		}
	}
	return addr
}

// errText is the sanitized text of err, for bodies and outputs.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return sanitize(err.Error())
}
