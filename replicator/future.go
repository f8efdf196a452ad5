package replicator

import (
	"reflect"

	"github.com/hashicorp/raft"
)

// futureAnswer reads raft's answer to f on a goroutine of its own and
// hands it over on the channel returned; once stop is closed, raft not
// having answered, the answer is raft.ErrRaftShutdown and the goroutine
// ends (answerOnStop).
func futureAnswer(f raft.Future, stop chan struct{}) <-chan error {
	answerOnStop(f, stop)
	answer := make(chan error, 1)
	go func() { answer <- f.Error() }()
	return answer
}

// answerOnStop has f's Error return raft.ErrRaftShutdown once stop is
// closed, if raft has not answered it by then. Raft never answers a
// barrier or membership change whose entry committed but still waited
// for its FSM goroutine when it shut down: that goroutine returns on
// shutdown and leaves the queued entries unanswered (hashicorp/raft issue
// 498, open in v1.7.1), and a goroutine reading such a future stayed
// blocked for the life of the process. Raft's futures wait on the
// exported field ShutdownCh of the deferError they embed — raft sets it
// on the futures it answers at shutdown (a user snapshot or restore),
// not on a log entry's (v1.7.1 future.go) — so it is set to stop here,
// through reflection (the future types are raft's own, unexported). A
// field raft set already, or a future without it (another raft version,
// a test's), is left alone: reading it then ends only with raft's answer.
//
// Called before anyone reads f (raft itself never reads the field but
// in Error).
func answerOnStop(f raft.Future, stop chan struct{}) {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	ch := v.Elem().FieldByName("ShutdownCh")
	if !ch.IsValid() || !ch.CanSet() || ch.Type() != reflect.TypeOf(stop) || !ch.IsNil() {
		return
	}
	ch.Set(reflect.ValueOf(stop))
}
