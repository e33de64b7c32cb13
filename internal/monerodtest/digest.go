package monerodtest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// digestChallenge is one "WWW-Authenticate: Digest ..." challenge.
type digestChallenge struct {
	realm, nonce, opaque string
	qopAuth              bool
}

// parseDigestChallenge picks the plain-MD5 Digest challenge among the
// WWW-Authenticate headers (monerod also offers MD5-sess).
func parseDigestChallenge(h http.Header) (digestChallenge, bool) {
	for _, v := range h.Values("Www-Authenticate") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Digest") {
			continue
		}
		p := parseAuthParams(rest)
		if alg := p["algorithm"]; alg != "" && !strings.EqualFold(alg, "MD5") {
			continue
		}
		c := digestChallenge{realm: p["realm"], nonce: p["nonce"], opaque: p["opaque"]}
		for _, q := range strings.Split(p["qop"], ",") {
			if strings.TrimSpace(q) == "auth" {
				c.qopAuth = true
			}
		}
		if c.nonce != "" {
			return c, true
		}
	}
	return digestChallenge{}, false
}

// parseAuthParams parses `k=v, k="quoted, v"` lists.
func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out
		}
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			return out
		}
		k = strings.ToLower(strings.TrimSpace(k))
		rest = strings.TrimLeft(rest, " \t")
		var v string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			v, s = b.String(), rest[min(i+1, len(rest)):]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			v, s = strings.TrimSpace(rest[:end]), rest[end:]
		}
		out[k] = v
	}
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// authorization answers the challenge for the first request with its nonce
// (nc=00000001).
func (c digestChallenge) authorization(user, pass, method, uri string) string {
	ha1 := md5hex(user + ":" + c.realm + ":" + pass)
	ha2 := md5hex(method + ":" + uri)
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5`, user, c.realm, c.nonce, uri)
	if c.qopAuth {
		const nc = "00000001"
		cnonce := randomHex(8)
		resp := md5hex(ha1 + ":" + c.nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
		fmt.Fprintf(&b, `, qop=auth, nc=%s, cnonce="%s", response="%s"`, nc, cnonce, resp)
	} else {
		fmt.Fprintf(&b, `, response="%s"`, md5hex(ha1+":"+c.nonce+":"+ha2))
	}
	if c.opaque != "" {
		fmt.Fprintf(&b, `, opaque="%s"`, c.opaque)
	}
	return b.String()
}
