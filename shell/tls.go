package shell

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"

	"github.com/zkgo/zkgo/internal/keystore"
)

// TLSOptions are zk's -tls options.
type TLSOptions struct {
	CAFile   string // -tls-ca: CA certificates the server's certificate must chain to ("" = the system's): PEM, or a .jks/.p12 trust store
	CertFile string // -tls-cert: client certificate: PEM (may hold the key too, as Apache's PEM key store), or a .jks/.p12 key store
	KeyFile  string // -tls-key: PEM private key ("" = look in CertFile)
	Insecure bool   // -tls-insecure: do not verify the server's certificate
}

// TLSConfig builds the client side of a connection to a secureClientPort.
// The server's name is checked against the host of each server address
// (an IP address against the certificate's IP SANs), as Apache's client
// does with hostname verification on.
func TLSConfig(o TLSOptions) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.Insecure}
	// Java's stores (by extension, as Apache's KeyStoreFileType) and
	// encrypted PEM keys are opened with $ZK_TLS_PASSWORD: a password on
	// the command line would show in ps.
	password := os.Getenv("ZK_TLS_PASSWORD")
	if o.CAFile != "" {
		pool, err := keystore.LoadTrust(o.CAFile, "", password)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %w", err)
		}
		tc.RootCAs = pool
	}
	switch {
	case o.KeyFile != "" && o.CertFile == "":
		return nil, errors.New("-tls-key needs -tls-cert")
	case o.KeyFile != "":
		if keystore.TypeOf("", o.CertFile) != keystore.PEM {
			return nil, fmt.Errorf("-tls-key: %s holds the key already", o.CertFile)
		}
		b, err := os.ReadFile(o.CertFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert: %w", err)
		}
		k, err := os.ReadFile(o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-key: %w", err)
		}
		cert, err := keystore.ParsePEM(append(append(b, '\n'), k...), password)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert %s and -tls-key %s: %w", o.CertFile, o.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case o.CertFile != "":
		cert, err := keystore.LoadKeyPair(o.CertFile, "", password)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
