package main

import "strconv"

// Helpers for the commands that print a line per record or event
// (`replay --events`, `journal inspect -v`): millions of lines, each
// appended to one reused buffer with strconv — fmt and a builder per
// line cost three times as much — and written through a bufio.Writer.

// appendNum appends " key" and v (key ends in '=').
func appendNum(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(append(b, ' '), key...), v, 10)
}

// appendUnum appends " key" and v.
func appendUnum(b []byte, key string, v uint64) []byte {
	return strconv.AppendUint(append(append(b, ' '), key...), v, 10)
}

// appendWord appends " key" and v.
func appendWord(b []byte, key, v string) []byte {
	return append(append(append(b, ' '), key...), v...)
}
