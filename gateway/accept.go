package gateway

import (
	"errors"
	"net"
	"time"

	"github.com/rs/zerolog"
)

// Accept waits for a port's next connection. It returns an error only
// once the listener is closed: any other failure — the process out of
// descriptors (EMFILE), the kernel out of buffers — is logged and retried
// after a pause that doubles from 5 ms up to a second, as net/http's
// server does. A port that returned on the first such error stayed bound,
// the kernel still completing handshakes, with nobody accepting them
// again until a restart.
func Accept(ln net.Listener, log zerolog.Logger, port string) (net.Conn, error) {
	var pause time.Duration
	for {
		conn, err := ln.Accept()
		if err == nil {
			return conn, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		pause = min(max(2*pause, 5*time.Millisecond), time.Second)
		log.Warn().Err(err).Str("port", port).Dur("retry_in", pause).Msg("accept failed")
		time.Sleep(pause)
	}
}
