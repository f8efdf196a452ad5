package gateway

import "strconv"

// LogID is a session id as the node's log writes it — a decimal string,
// as GET /sessions sends it (SessionInfo.ID): log it with
// zerolog's Stringer. Ids are above 2^53 (the clock's nanoseconds), and
// a JSON number that large is read as another id by a reader whose
// numbers are float64 (jq, JavaScript, many log pipelines). Only for
// lines written per session or per operator action: boxing it
// allocates.
type LogID uint64

func (id LogID) String() string { return strconv.FormatUint(uint64(id), 10) }
