package input

import (
	"testing"
	"unsafe"

	"github.com/ringex/ringex/engine"
)

func TestSlotLayout(t *testing.T) {
	if got := unsafe.Sizeof(Slot{}); got != SlotSize {
		t.Fatalf("Slot is %d bytes, want %d", got, SlotSize)
	}
	if got := unsafe.Sizeof(engine.Command{}); got != cmdSize {
		t.Fatalf("engine.Command is %d bytes, want %d", got, cmdSize)
	}
	if got := unsafe.Offsetof(Slot{}.Raw); got != headerSize {
		t.Fatalf("Raw at offset %d, want %d", got, headerSize)
	}
}

func TestSetPayload(t *testing.T) {
	var s Slot
	if !s.SetPayload([]byte("abc")) || string(s.Payload()) != "abc" {
		t.Fatalf("payload = %q", s.Payload())
	}
	if s.SetPayload(make([]byte, RawCapacity+1)) {
		t.Fatal("oversize payload accepted")
	}
	if !s.SetPayload(make([]byte, RawCapacity)) || int(s.Len) != RawCapacity {
		t.Fatal("payload of exactly RawCapacity refused")
	}
}
