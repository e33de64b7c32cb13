package monerod

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// digestState is what one connection remembers of monerod's last HTTP Digest
// challenge. monerod binds a nonce to the TCP connection that received it and
// wants the nonce count to rise by exactly one per request, so each lane (one
// connection) keeps its own state and is used by one request at a time.
type digestState struct {
	realm, nonce, opaque, algorithm string
	nc                              uint32
}

// parseDigestChallenge picks, among the WWW-Authenticate headers, a Digest
// challenge we can answer: plain MD5 with qop=auth is preferred, MD5-sess is
// accepted. It returns nil when none fits.
func parseDigestChallenge(h http.Header) *digestState {
	var best *digestState
	for _, v := range h.Values("Www-Authenticate") {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok || !strings.EqualFold(scheme, "Digest") {
			continue
		}
		p := parseAuthParams(rest)
		if p["nonce"] == "" || !qopHasAuth(p["qop"]) {
			continue
		}
		alg := p["algorithm"]
		if alg == "" {
			alg = "MD5"
		}
		s := &digestState{realm: p["realm"], nonce: p["nonce"], opaque: p["opaque"], algorithm: alg}
		switch {
		case strings.EqualFold(alg, "MD5"):
			return s
		case strings.EqualFold(alg, "MD5-sess") && best == nil:
			best = s
		}
	}
	return best
}

func qopHasAuth(qop string) bool {
	for _, q := range strings.Split(qop, ",") {
		if strings.TrimSpace(q) == "auth" {
			return true
		}
	}
	return false
}

// parseAuthParams splits `k=v, k="v, with comma"` into a map.
func parseAuthParams(s string) map[string]string {
	out := make(map[string]string, 8)
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t,")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			s = s[1:]
			var b strings.Builder
			for i := 0; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					b.WriteByte(s[i])
					continue
				}
				if s[i] == '"' {
					s = s[i+1:]
					break
				}
				b.WriteByte(s[i])
				if i == len(s)-1 {
					s = ""
				}
			}
			val = b.String()
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		out[key] = val
	}
	return out
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// authorize answers the challenge for one request, advancing the nonce count.
func (d *digestState) authorize(user, password, method, uri string) string {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return d.authorizeWith(user, password, method, uri, hex.EncodeToString(rnd[:]))
}

func (d *digestState) authorizeWith(user, password, method, uri, cnonce string) string {
	d.nc++
	nc := fmt.Sprintf("%08x", d.nc)
	ha1 := md5hex(user + ":" + d.realm + ":" + password)
	if strings.EqualFold(d.algorithm, "MD5-sess") {
		ha1 = md5hex(ha1 + ":" + d.nonce + ":" + cnonce)
	}
	ha2 := md5hex(method + ":" + uri)
	resp := md5hex(ha1 + ":" + d.nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	var b strings.Builder
	b.Grow(256)
	b.WriteString(`Digest username=`)
	b.WriteString(strconv.Quote(user))
	b.WriteString(`, realm=`)
	b.WriteString(strconv.Quote(d.realm))
	b.WriteString(`, nonce=`)
	b.WriteString(strconv.Quote(d.nonce))
	b.WriteString(`, uri=`)
	b.WriteString(strconv.Quote(uri))
	b.WriteString(`, algorithm=`)
	b.WriteString(d.algorithm)
	b.WriteString(`, response="`)
	b.WriteString(resp)
	b.WriteString(`", qop=auth, nc=`)
	b.WriteString(nc)
	b.WriteString(`, cnonce="`)
	b.WriteString(cnonce)
	b.WriteString(`"`)
	if d.opaque != "" {
		b.WriteString(`, opaque=`)
		b.WriteString(strconv.Quote(d.opaque))
	}
	return b.String()
}
