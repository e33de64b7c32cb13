package monerod

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// epeeValue is one top-level value of an answer read by readEpeeObject: a
// string's bytes, unescaped, or another value's text (a number, true).
type epeeValue struct {
	b   []byte
	str bool
}

// readEpeeObject reads the top level of a JSON object as monerod's epee
// library writes it: JSON, except that a string holding binary data (a
// "blob", such as the tx_hashes of /get_transaction_pool_hashes.bin) carries
// its bytes raw, control characters and invalid UTF-8 included, escaping
// only \b \f \n \r \t \v (which JSON lacks) " \ and /. encoding/json refuses
// such a body. Nested objects and arrays are skipped. Strings are unescaped
// in place: b is overwritten.
func readEpeeObject(b []byte) (map[string]epeeValue, error) {
	p := epeeParser{b: b}
	out := map[string]epeeValue{}
	p.ws()
	if !p.take('{') {
		return nil, p.errorf("want an object")
	}
	p.ws()
	if p.take('}') {
		return out, p.end()
	}
	for {
		p.ws()
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if !p.take(':') {
			return nil, p.errorf("want ':' after key %q", key)
		}
		p.ws()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		out[string(key)] = v
		p.ws()
		if p.take(',') {
			continue
		}
		if p.take('}') {
			return out, p.end()
		}
		return nil, p.errorf("want ',' or '}'")
	}
}

// maxEpeeDepth bounds the nesting of skipped values.
const maxEpeeDepth = 64

type epeeParser struct {
	b   []byte
	off int
}

func (p *epeeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("epee JSON at byte %d: %s", p.off, fmt.Sprintf(format, args...))
}

func (p *epeeParser) ws() {
	for p.off < len(p.b) {
		switch p.b[p.off] {
		case ' ', '\t', '\r', '\n':
			p.off++
		default:
			return
		}
	}
}

func (p *epeeParser) take(c byte) bool {
	if p.off < len(p.b) && p.b[p.off] == c {
		p.off++
		return true
	}
	return false
}

func (p *epeeParser) end() error {
	p.ws()
	if p.off != len(p.b) {
		return p.errorf("data after the object")
	}
	return nil
}

func (p *epeeParser) value() (epeeValue, error) {
	if p.off >= len(p.b) {
		return epeeValue{}, p.errorf("want a value")
	}
	switch p.b[p.off] {
	case '"':
		s, err := p.str()
		return epeeValue{b: s, str: true}, err
	case '{', '[':
		return epeeValue{}, p.skip(0)
	}
	start := p.off
	for p.off < len(p.b) {
		switch p.b[p.off] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			if p.off == start {
				return epeeValue{}, p.errorf("want a value")
			}
			return epeeValue{b: p.b[start:p.off]}, nil
		case '"', '{', '[', ':':
			return epeeValue{}, p.errorf("unexpected %q", p.b[p.off])
		}
		p.off++
	}
	return epeeValue{}, p.errorf("truncated")
}

// skip passes over a nested object or array.
func (p *epeeParser) skip(depth int) error {
	if depth > maxEpeeDepth {
		return p.errorf("nested too deep")
	}
	closer := byte('}')
	if p.b[p.off] == '[' {
		closer = ']'
	}
	p.off++
	for {
		p.ws()
		if p.off >= len(p.b) {
			return p.errorf("truncated")
		}
		switch c := p.b[p.off]; c {
		case closer:
			p.off++
			return nil
		case '"':
			if _, err := p.str(); err != nil {
				return err
			}
		case '{', '[':
			if err := p.skip(depth + 1); err != nil {
				return err
			}
		case '}', ']':
			return p.errorf("unbalanced %q", c)
		default:
			p.off++
		}
	}
}

// str reads a string, unescaping it to its bytes in place: unescaping
// only shrinks the text, so the bytes are written over those already read
// (a pool's hash list is megabytes; no copy of it is made here).
func (p *epeeParser) str() ([]byte, error) {
	if !p.take('"') {
		return nil, p.errorf("want a string")
	}
	start, w := p.off, p.off
	put := func(c byte) {
		p.b[w] = c
		w++
	}
	for p.off < len(p.b) {
		c := p.b[p.off]
		p.off++
		switch c {
		case '"':
			return p.b[start:w], nil
		case '\\':
			if p.off >= len(p.b) {
				return nil, p.errorf("truncated escape")
			}
			e := p.b[p.off]
			p.off++
			switch e {
			case 'b':
				put('\b')
			case 'f':
				put('\f')
			case 'n':
				put('\n')
			case 'r':
				put('\r')
			case 't':
				put('\t')
			case 'v':
				put('\v')
			case '"', '\\', '/':
				put(e)
			case 'u':
				if p.off+4 > len(p.b) {
					return nil, p.errorf("truncated \\u escape")
				}
				n, err := strconv.ParseUint(string(p.b[p.off:p.off+4]), 16, 16)
				if err != nil {
					return nil, p.errorf("bad \\u escape")
				}
				p.off += 4
				// A byte escaped (epee writes bytes, not characters),
				// else a character (at most 3 bytes for the 6 read).
				if n < 0x100 {
					put(byte(n))
				} else {
					for _, b := range utf8.AppendRune(nil, rune(n)) {
						put(b)
					}
				}
			default:
				return nil, p.errorf("unknown escape \\%c", e)
			}
		default:
			put(c)
		}
	}
	return nil, p.errorf("truncated string")
}

var errNotString = errors.New("not a string")

// epeeBlob returns the string value of key, nil when absent (epee leaves an
// empty blob out).
func epeeBlob(obj map[string]epeeValue, key string) ([]byte, error) {
	v, ok := obj[key]
	switch {
	case !ok:
		return nil, nil
	case !v.str:
		return nil, fmt.Errorf("%s: %w", key, errNotString)
	}
	return v.b, nil
}
