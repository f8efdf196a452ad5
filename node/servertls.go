package node

import (
	"crypto/tls"
	"fmt"

	"github.com/ringex/ringex/config"
)

// serverTLS is the TLS config of a listener whose certificate and key
// t names (gateway.tls, marketdata.tls, admin.tls; key is that key, for the error): TLS
// 1.2 or later, the pair loaded once, at start.
func serverTLS(key string, t config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("node: %s: %w", key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
