// Package jsonscan finds the members of a JSON object without decoding
// their values, for code that needs one or two members of a large object.
// It expects well-formed JSON (encoding/json's output, or a file checked
// elsewhere) and does not validate what it skips.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Member is one member of a JSON object.
type Member struct {
	Key    string // decoded
	RawKey []byte // as written, quotes included
	Value  []byte // as written, without the whitespace around it
}

// ErrNotObject is returned for input that is not a JSON object.
var ErrNotObject = errors.New("jsonscan: not a JSON object")

// Members returns the members of the JSON object data, in order. A member
// whose key repeats an earlier one replaces it, as decoding would.
func Members(data []byte) ([]Member, error) {
	pos := space(data, 0)
	end := len(data)
	for end > pos && isSpace(data[end-1]) {
		end--
	}
	if end-pos < 2 || data[pos] != '{' || data[end-1] != '}' {
		return nil, ErrNotObject
	}
	members := make([]Member, 0, 8) // enough for most objects' top level
	var index map[string]int        // of the members by key, once there are many
	for pos = space(data, pos+1); pos < end-1; {
		keyEnd := skip(data, pos)
		if keyEnd < 0 || data[pos] != '"' {
			return nil, ErrNotObject
		}
		rawKey := data[pos:keyEnd]
		colon := space(data, keyEnd)
		if colon >= end || data[colon] != ':' {
			return nil, ErrNotObject
		}
		start := space(data, colon+1)
		valueEnd := skip(data, start)
		if valueEnd < 0 || valueEnd == start {
			return nil, ErrNotObject
		}
		key, err := decodeKey(rawKey)
		if err != nil {
			return nil, err
		}
		m := Member{Key: key, RawKey: rawKey, Value: data[start:valueEnd]}
		if i := find(members, index, key); i >= 0 {
			members[i] = m
		} else {
			members = append(members, m)
			if index != nil || len(members) > linearSearchMax {
				index = indexOf(members, index)
			}
		}
		pos = space(data, valueEnd)
		switch {
		case pos < end-1 && data[pos] == ',':
			pos = space(data, pos+1)
		case pos != end-1:
			return nil, ErrNotObject
		}
	}
	return members, nil
}

// decodeKey decodes a quoted key; one without escapes is taken as it is.
func decodeKey(raw []byte) (string, error) {
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			var key string
			err := json.Unmarshal(raw, &key)
			return key, err
		}
	}
	return string(inner), nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func space(data []byte, pos int) int {
	for pos < len(data) && isSpace(data[pos]) {
		pos++
	}
	return pos
}

// skip returns the end of the JSON value that starts at data[pos], or -1.
// A number or literal ends before whitespace, a comma or its container's
// end.
func skip(data []byte, pos int) int {
	depth := 0
	for i := pos; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			if i = stringEnd(data, i+1); i < 0 {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	if depth == 0 {
		return len(data)
	}
	return -1
}

// stringEnd returns the position of the quote that ends the string whose
// contents start at data[pos], or -1. It finds quotes with
// bytes.IndexByte, and a quote ends the string unless an odd number of
// backslashes comes before it.
func stringEnd(data []byte, pos int) int {
	for from := pos; ; {
		q := bytes.IndexByte(data[from:], '"')
		if q < 0 {
			return -1
		}
		q += from
		backslashes := 0
		for b := q - 1; b >= pos && data[b] == '\\'; b-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q
		}
		from = q + 1
	}
}

// linearSearchMax is the number of members up to which Members looks for
// a repeated key among them rather than in an index.
const linearSearchMax = 16

// find returns the position of key among members, using index if there
// is one, or -1.
func find(members []Member, index map[string]int, key string) int {
	if index != nil {
		if i, ok := index[key]; ok {
			return i
		}
		return -1
	}
	for i := range members {
		if members[i].Key == key {
			return i
		}
	}
	return -1
}

// indexOf adds the last of members to index, making it from all of them
// if it is nil.
func indexOf(members []Member, index map[string]int) map[string]int {
	if index == nil {
		index = make(map[string]int, 2*len(members))
		for i, m := range members {
			index[m.Key] = i
		}
		return index
	}
	index[members[len(members)-1].Key] = len(members) - 1
	return index
}
