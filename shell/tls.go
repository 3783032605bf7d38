package shell

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TLSOptions are zk's -tls options.
type TLSOptions struct {
	CAFile   string // -tls-ca: PEM CA certificates the server's certificate must chain to ("" = the system's)
	CertFile string // -tls-cert: PEM client certificate (may hold the key too, as Apache's PEM key store)
	KeyFile  string // -tls-key: PEM private key ("" = look in CertFile)
	Insecure bool   // -tls-insecure: do not verify the server's certificate
}

// TLSConfig builds the client side of a connection to a secureClientPort.
// The server's name is checked against the host of each server address
// (an IP address against the certificate's IP SANs), as Apache's client
// does with hostname verification on.
func TLSConfig(o TLSOptions) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.Insecure}
	if o.CAFile != "" {
		b, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("-tls-ca: %s: no PEM certificate", o.CAFile)
		}
		tc.RootCAs = pool
	}
	if o.KeyFile != "" && o.CertFile == "" {
		return nil, errors.New("-tls-key needs -tls-cert")
	}
	if o.CertFile != "" {
		keyFile := o.KeyFile
		if keyFile == "" {
			keyFile = o.CertFile
		}
		certs, err := pemBlocks(o.CertFile, "CERTIFICATE", func(t string) bool { return t == "CERTIFICATE" })
		if err != nil {
			return nil, fmt.Errorf("-tls-cert: %w", err)
		}
		keys, err := pemBlocks(keyFile, "PRIVATE KEY", func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") })
		if err != nil {
			flag := "-tls-key"
			if o.KeyFile == "" {
				flag = "-tls-cert (no -tls-key)"
			}
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		cert, err := tls.X509KeyPair(certs, keys)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// pemBlocks returns the PEM blocks of path whose type keep accepts
// (what names them in the error).
func pemBlocks(path, what string, keep func(string) bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []byte
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if keep(blk.Type) {
			out = append(out, pem.EncodeToMemory(blk)...)
		}
	}
	if out == nil {
		return nil, fmt.Errorf("%s: no %s in the PEM file", path, what)
	}
	return out, nil
}
